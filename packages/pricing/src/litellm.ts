import { createHash } from "node:crypto";
import type { ModelPrices, PriceTier, ServiceTierPrices, UnitPrices } from "@tokenmeter/core";
import { z } from "zod";

/**
 * LiteLLM's `model_prices_and_context_window.json`: an object of model name →
 * entry, prices in USD per token. Only the keys Tokenmeter bills are typed;
 * everything else in an entry (context sizes, capability flags, image and
 * audio prices) passes through untouched.
 */
const price = z.number().finite().nonnegative().nullish();
const TIER_KEY = /^input_cost_per_token_above_(\d+(?:\.\d+)?)(k?)_tokens$/;

/** One level of LiteLLM's other tier style (e.g. dashscope): prices for prompts within `range`. */
const RangeTier = z.looseObject({
  range: z.tuple([z.number().nonnegative(), z.number().nonnegative()]),
  input_cost_per_token: z.number().finite().nonnegative(),
  output_cost_per_token: price,
  cache_read_input_token_cost: price,
  cache_creation_input_token_cost: price,
});

export const LiteLlmEntry = z.looseObject({
  litellm_provider: z.string().optional(),
  mode: z.string().optional(),
  input_cost_per_token: price,
  output_cost_per_token: price,
  cache_read_input_token_cost: price,
  cache_creation_input_token_cost: price,
  output_cost_per_reasoning_token: price,
  // Read leniently (see withRangeTiers): an unfamiliar shape must not block every other price.
  tiered_pricing: z.unknown().optional(),
});
export type LiteLlmEntry = z.infer<typeof LiteLlmEntry>;

/** One model's prices as Tokenmeter stores them (a row of model_pricing, minus the version). */
export interface ModelPriceEntry {
  /** The document's key, e.g. "gpt-4o" or "gemini/gemini-1.5-pro". */
  model: string;
  provider: string;
  mode: string;
  prices: ModelPrices;
}

export interface ParsedDocument {
  entries: ModelPriceEntry[];
  /** sha256 of the document text: names a version and detects "nothing changed" cheaply. */
  sha256: string;
}

export class PricingDocumentError extends Error {
  override readonly name = "PricingDocumentError";
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(
      problems.length > 0
        ? `${message}: ${problems.slice(0, 5).join("; ")}${problems.length > 5 ? ` (+${problems.length - 5} more)` : ""}`
        : message,
    );
  }
}

export interface ParseOptions {
  /** Fewer priced models than this means a truncated or wrong document. Default 1. */
  minModels?: number;
}

/**
 * Parses and validates a whole LiteLLM document. Any invalid price anywhere
 * rejects the whole document (a partly wrong price list must not be half
 * applied); entries without token prices (images, audio, per-second) are
 * skipped, they are not wrong.
 */
export function parseLiteLlmDocument(text: string, opts: ParseOptions = {}): ParsedDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PricingDocumentError(`not JSON (${(err as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new PricingDocumentError("not a JSON object of model entries");
  const problems: string[] = [];
  const entries: ModelPriceEntry[] = [];
  for (const [model, value] of Object.entries(raw)) {
    if (model === "sample_spec") continue;
    const parsed = LiteLlmEntry.safeParse(value);
    if (!parsed.success) {
      for (const i of parsed.error.issues) problems.push(`${model}.${i.path.join(".") || "(entry)"}: ${i.message}`);
      continue;
    }
    const e = withRangeTiers(parsed.data);
    const units = parseUnitPrices(model, e, problems);
    if (e.input_cost_per_token == null && e.output_cost_per_token == null && units === undefined) continue;
    const tiers = parseTiers(model, e, problems);
    const serviceTiers = parseServiceTiers(model, e, problems);
    entries.push({
      model,
      provider: e.litellm_provider ?? "",
      mode: e.mode ?? "",
      prices: {
        input: e.input_cost_per_token ?? 0,
        output: e.output_cost_per_token ?? 0,
        cache_read: e.cache_read_input_token_cost ?? null,
        cache_write: e.cache_creation_input_token_cost ?? null,
        reasoning: e.output_cost_per_reasoning_token ?? null,
        tiers,
        ...(units ? { units } : {}),
        ...(serviceTiers ? { service_tiers: serviceTiers } : {}),
      },
    });
  }
  if (problems.length > 0) throw new PricingDocumentError("invalid prices", problems);
  const minModels = opts.minModels ?? 1;
  if (entries.length < minModels) throw new PricingDocumentError(`only ${entries.length} priced models, expected at least ${minModels}`);
  return { entries, sha256: createHash("sha256").update(text).digest("hex") };
}

/**
 * `tiered_pricing: [{range: [0, 256000], …}, {range: [256000, 1000000], …}]`
 * → the lowest range as base prices (unless the entry has its own) and each
 * higher range as an `_above_<start>_tokens` tier, so one tier model serves both styles.
 */
function withRangeTiers(e: LiteLlmEntry): LiteLlmEntry {
  if (e.tiered_pricing === undefined) return e;
  // A shape we do not know is ignored: the model keeps its top-level prices, or stays unpriced.
  const parsed = z.array(RangeTier).min(1).safeParse(e.tiered_pricing);
  if (!parsed.success) return e;
  const levels = [...parsed.data].sort((a, b) => a.range[0] - b.range[0]);
  const out: Record<string, unknown> = { ...e };
  const [base, ...higher] = levels;
  if (base && out.input_cost_per_token == null) {
    out.input_cost_per_token = base.input_cost_per_token;
    out.output_cost_per_token ??= base.output_cost_per_token;
    out.cache_read_input_token_cost ??= base.cache_read_input_token_cost;
    out.cache_creation_input_token_cost ??= base.cache_creation_input_token_cost;
  }
  for (const t of higher) {
    const suffix = `_above_${t.range[0]}_tokens`;
    out[`input_cost_per_token${suffix}`] ??= t.input_cost_per_token;
    out[`output_cost_per_token${suffix}`] ??= t.output_cost_per_token;
    out[`cache_read_input_token_cost${suffix}`] ??= t.cache_read_input_token_cost;
    out[`cache_creation_input_token_cost${suffix}`] ??= t.cache_creation_input_token_cost;
  }
  return out as LiteLlmEntry;
}

/** `input_cost_per_token_above_200k_tokens` and its siblings → one tier per threshold. */
function parseTiers(model: string, e: LiteLlmEntry, problems: string[]): PriceTier[] {
  const tiers: PriceTier[] = [];
  for (const [key, value] of Object.entries(e)) {
    const m = TIER_KEY.exec(key);
    if (!m || value == null) continue;
    const threshold = Number(m[1]) * (m[2] === "k" ? 1000 : 1);
    const suffix = `_above_${m[1]}${m[2]}_tokens`;
    const read = (k: string): number | null => {
      const v = e[k];
      if (v == null) return null;
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
        problems.push(`${model}.${k}: must be a number >= 0`);
        return null;
      }
      return v;
    };
    const input = read(key);
    if (input === null) continue;
    tiers.push({
      above_input_tokens: threshold,
      input,
      output: read(`output_cost_per_token${suffix}`),
      cache_read: read(`cache_read_input_token_cost${suffix}`),
      cache_write: read(`cache_creation_input_token_cost${suffix}`),
    });
  }
  return tiers.sort((a, b) => a.above_input_tokens - b.above_input_tokens);
}

/** A price field that may be absent; present, it must be a number >= 0. */
function optionalPrice(model: string, e: Record<string, unknown>, key: string, problems: string[]): number | null {
  const v = e[key];
  if (v == null) return null;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    problems.push(`${model}.${key}: must be a number >= 0`);
    return null;
  }
  return v;
}

/**
 * LiteLLM's non-token prices → UnitPrices (core unit-cost.ts), undefined when
 * the entry has none. search_context_cost_per_query is per context size: the
 * medium one is charged (events do not say which size a search used).
 */
function parseUnitPrices(model: string, e: LiteLlmEntry, problems: string[]): UnitPrices | undefined {
  const get = (...keys: string[]): number | null => {
    for (const k of keys) {
      const v = optionalPrice(model, e, k, problems);
      if (v !== null) return v;
    }
    return null;
  };
  const search = e.search_context_cost_per_query;
  let webSearch: number | null = null;
  if (typeof search === "number") webSearch = get("search_context_cost_per_query");
  else if (search && typeof search === "object") {
    webSearch = optionalPrice(model, search as Record<string, unknown>, "search_context_size_medium", problems);
  }
  const units: UnitPrices = {
    image: get("output_cost_per_image", "input_cost_per_image"),
    pixel: get("input_cost_per_pixel", "output_cost_per_pixel"),
    audio_input_second: get("input_cost_per_second", "input_cost_per_audio_per_second"),
    audio_output_second: get("output_cost_per_second"),
    character: get("input_cost_per_character", "output_cost_per_character"),
    query: get("input_cost_per_query"),
    web_search: webSearch,
    video_second: get("output_cost_per_video_per_second", "input_cost_per_video_per_second"),
    page: get("ocr_cost_per_page"),
  };
  const present = Object.fromEntries(Object.entries(units).filter(([, v]) => v !== null)) as UnitPrices;
  return Object.keys(present).length > 0 ? present : undefined;
}

/** `input_cost_per_token_batches`, `…_flex`, `…_priority` (and their output / cache siblings) → tier prices. */
function parseServiceTiers(model: string, e: LiteLlmEntry, problems: string[]): ServiceTierPrices | undefined {
  const out: ServiceTierPrices = {};
  for (const [tier, suffix] of [
    ["batch", "_batches"],
    ["flex", "_flex"],
    ["priority", "_priority"],
  ] as const) {
    const prices = {
      input: optionalPrice(model, e, `input_cost_per_token${suffix}`, problems),
      output: optionalPrice(model, e, `output_cost_per_token${suffix}`, problems),
      cache_read: optionalPrice(model, e, `cache_read_input_token_cost${suffix}`, problems),
      cache_write: optionalPrice(model, e, `cache_creation_input_token_cost${suffix}`, problems),
    };
    if (Object.values(prices).some((v) => v !== null)) out[tier] = prices;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
