/**
 * Cost math: USD for one call from its token counts and a model's per-token
 * prices. Pure, so ingest, re-pricing and tests all share one definition.
 *
 * Token convention (docs/api.md, event schema v1): `input_tokens` includes `cached_input_tokens`
 * and `cache_write_tokens`; `output_tokens` includes `reasoning_tokens`.
 */

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
  const level = effectivePrices(p, u.input_tokens);
  // Clamp so inconsistent counts can never bill a token twice or go negative.
  const cached = Math.min(u.cached_input_tokens, u.input_tokens);
  const cacheWrite = Math.min(u.cache_write_tokens, u.input_tokens - cached);
  const plainInput = u.input_tokens - cached - cacheWrite;
  const reasoning = Math.min(u.reasoning_tokens, u.output_tokens);
  const plainOutput = u.output_tokens - reasoning;
  return (
    plainInput * level.input +
    cached * (level.cache_read ?? level.input) +
    cacheWrite * (level.cache_write ?? level.input) +
    plainOutput * level.output +
    reasoning * (level.reasoning ?? level.output)
  );
}
