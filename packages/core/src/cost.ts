/**
 * Cost math: USD for one call from its token counts and a model's per-token
 * prices. Pure, so ingest, re-pricing and tests all share one definition.
 *
 * Token convention (docs/api.md, event schema v1): `input_tokens` includes `cached_input_tokens`
 * and `cache_write_tokens`; `output_tokens` includes `reasoning_tokens`.
 */

import type { ServiceTier, UnitKey, Units } from "./event.js";
import { computeUnitCost, type ServiceTierPrices, tierPrices, type UnitPrices } from "./unit-cost.js";

/** USD per token for one price level. A null cache/reasoning price falls back (see {@link computeCost}). */
export interface TokenPrices {
  input: number;
  output: number;
  cache_read: number | null;
  cache_write: number | null;
  reasoning: number | null;
}

/**
 * A long-context price level (LiteLLM `*_above_<N>k_tokens` keys). When the
 * prompt (all input tokens) is strictly greater than `above_input_tokens`, the
 * tier's prices replace the base prices for the whole call — input, output and
 * both cache prices — not only for the tokens past the threshold. A tier price
 * left null keeps the base price. This is how LiteLLM applies these keys and
 * how the providers bill them (the long-context rate applies to the request).
 */
export interface PriceTier {
  above_input_tokens: number;
  input: number;
  output: number | null;
  cache_read: number | null;
  cache_write: number | null;
}

export interface ModelPrices extends TokenPrices {
  /** Any order; the highest threshold the prompt exceeds wins. */
  tiers: readonly PriceTier[];
  /** v1.1: non-token unit prices (unit-cost.ts); absent = none. */
  units?: UnitPrices;
  /** v1.1: batch / flex / priority token prices; absent = standard prices for every tier. */
  service_tiers?: ServiceTierPrices;
}

export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
}

/** The price level that applies to a prompt of `inputTokens` tokens. */
export function effectivePrices(p: ModelPrices, inputTokens: number): TokenPrices {
  let tier: PriceTier | undefined;
  for (const t of p.tiers) {
    if (inputTokens > t.above_input_tokens && (!tier || t.above_input_tokens > tier.above_input_tokens)) tier = t;
  }
  if (!tier) return p;
  return {
    input: tier.input,
    output: tier.output ?? p.output,
    cache_read: tier.cache_read ?? p.cache_read,
    cache_write: tier.cache_write ?? p.cache_write,
    // LiteLLM has no tiered reasoning price; an untiered one stays as it is.
    reasoning: p.reasoning,
  };
}

/**
 * USD for one call:
 * (input − cached − cache_write) × input + cached × cache_read + cache_write × cache_write
 * + (output − reasoning) × output + reasoning × reasoning.
 * A missing cache price bills those tokens at the (tier's) input price, and a
 * missing reasoning price at the output price: a model without a discount is
 * billed at its full rate, never for free.
 */
export function computeCost(p: ModelPrices, u: TokenUsage): number {
  const b = computeCostBreakdown(p, u);
  return b.input + b.cached_input + b.cache_write + b.output + b.reasoning;
}

/**
 * What a call's cost is made of (USD), stored per event so a user can see why
 * it cost what it did: the parts of {@link computeCost}, plus non-token units.
 */
export interface CostBreakdown {
  input: number;
  cached_input: number;
  cache_write: number;
  output: number;
  reasoning: number;
  units: number;
}

/**
 * The parts of {@link computeCost} (units 0: token prices only). With a
 * service tier, the tier's own prices replace the standard ones where the
 * price list has them (on the context tier's level: LiteLLM's few combined
 * `_above_<N>_tokens_priority` keys are not read).
 */
export function computeCostBreakdown(p: ModelPrices, u: TokenUsage, tier?: ServiceTier): CostBreakdown {
  const level = tierPrices(effectivePrices(p, u.input_tokens), p.service_tiers, tier);
  // Clamp so inconsistent counts can never bill a token twice or go negative.
  const cached = Math.min(u.cached_input_tokens, u.input_tokens);
  const cacheWrite = Math.min(u.cache_write_tokens, u.input_tokens - cached);
  const plainInput = u.input_tokens - cached - cacheWrite;
  const reasoning = Math.min(u.reasoning_tokens, u.output_tokens);
  const plainOutput = u.output_tokens - reasoning;
  return {
    input: plainInput * level.input,
    cached_input: cached * (level.cache_read ?? level.input),
    cache_write: cacheWrite * (level.cache_write ?? level.input),
    output: plainOutput * level.output,
    reasoning: reasoning * (level.reasoning ?? level.output),
    units: 0,
  };
}

/** What pricing one event gives: its parts, their total, and the units nothing prices. */
export interface EventCost {
  breakdown: CostBreakdown;
  total: number;
  /** Non-empty: the call must be stored unpriced (DESIGN.md: never a silent $0). */
  unpriced_units: readonly UnitKey[];
}

const NO_UNPRICED: readonly UnitKey[] = Object.freeze([]);

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/** An event's cost from its tokens, service tier and units (v1.1). */
export function computeEventCost(
  p: ModelPrices,
  e: TokenUsage & { service_tier?: ServiceTier | undefined; units?: Units | undefined; image_size?: string | undefined },
): EventCost {
  const breakdown = computeCostBreakdown(p, e, e.service_tier);
  let unpriced = NO_UNPRICED;
  // Most calls carry no units: skip the unit pricing (and its allocations); units stays 0, the sum below unchanged.
  if (e.units !== undefined && hasKeys(e.units)) {
    const units = computeUnitCost(p.units, e.units, e.image_size);
    breakdown.units = units.usd;
    unpriced = units.unpriced;
  }
  const total = breakdown.input + breakdown.cached_input + breakdown.cache_write + breakdown.output + breakdown.reasoning + breakdown.units;
  return { breakdown, total, unpriced_units: unpriced };
}

/**
 * A USD amount as the text of a Decimal(38, 12) (llm_usage.cost_usd): rounded
 * to 12 decimals from the double's exact value, never in exponent form. The
 * engine would truncate extra digits (0.0030849999999999996 → …4999999), so
 * every writer formats money here.
 */
export function usdText(usd: number): string {
  if (!Number.isFinite(usd) || usd < 0) throw new RangeError(`not a cost: ${usd}`);
  if (usd === 0) return "0";
  // Trailing zeros dropped: fewer bytes for the engine to parse per money field (same value).
  const t = usd.toFixed(12);
  let end = t.length;
  while (t.charCodeAt(end - 1) === 48) end--;
  if (t.charCodeAt(end - 1) === 46) end--;
  return end === t.length ? t : t.slice(0, end);
}
