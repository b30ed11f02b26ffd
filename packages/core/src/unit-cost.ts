/**
 * Non-token prices (DESIGN.md "Event schema v1.1"): what an event's `units`
 * and `service_tier` cost, from the prices LiteLLM publishes beside the token
 * prices. Pure, like cost.ts.
 */
import type { TokenPrices } from "./cost.js";
import type { ServiceTier, UnitKey, Units } from "./event.js";

/** USD per unit; null (or absent) = the price list has no price for it. */
export interface UnitPrices {
  /** Per generated image (LiteLLM output_cost_per_image, else input_cost_per_image). */
  image?: number | null;
  /** Per pixel of image_size, per image (input_cost_per_pixel / output_cost_per_pixel). */
  pixel?: number | null;
  /** Per second of audio in (input_cost_per_second, input_cost_per_audio_per_second). */
  audio_input_second?: number | null;
  /** Per second of audio out (output_cost_per_second). */
  audio_output_second?: number | null;
  /** Per character (speech: input_cost_per_character). */
  character?: number | null;
  /** Per query (rerank, search: input_cost_per_query). */
  query?: number | null;
  /** Per web search call, medium context (search_context_cost_per_query). */
  web_search?: number | null;
  /** Per second of video (output_cost_per_video_per_second, input_cost_per_video_per_second). */
  video_second?: number | null;
  /** Per page (ocr_cost_per_page). */
  page?: number | null;
}

/** Token prices of a non-standard service tier (LiteLLM `*_batches`, `*_flex`, `*_priority`); a null one falls back to standard. */
export type TierPrices = Partial<Record<keyof TokenPrices, number | null>>;
export type ServiceTierPrices = Partial<Record<Exclude<ServiceTier, "standard">, TierPrices>>;

/** The token prices of `tier`: each price the tier has replaces the standard one, the rest stay. */
export function tierPrices(level: TokenPrices, tiers: ServiceTierPrices | undefined, tier: ServiceTier | undefined): TokenPrices {
  if (!tier || tier === "standard") return level;
  const t = tiers?.[tier];
  if (!t) return level;
  return {
    input: t.input ?? level.input,
    output: t.output ?? level.output,
    cache_read: t.cache_read ?? level.cache_read,
    cache_write: t.cache_write ?? level.cache_write,
    reasoning: t.reasoning ?? level.reasoning,
  };
}

/** "1024x1024" / "1024-x-1024" → pixels, or null when it is not W×H. */
export function pixelsOf(size: string | undefined): number | null {
  const m = /^(\d{1,5})\s*(?:x|-x-|\*)\s*(\d{1,5})$/i.exec(size ?? "");
  return m ? Number(m[1]) * Number(m[2]) : null;
}

export interface UnitCost {
  usd: number;
  /** Units the event carries (> 0) that have no price: the call is unpriced, never $0. */
  unpriced: UnitKey[];
}

/** USD for an event's units; every unit > 0 needs a price. */
export function computeUnitCost(p: UnitPrices | undefined, units: Units | undefined, imageSize?: string): UnitCost {
  let usd = 0;
  const unpriced: UnitKey[] = [];
  for (const [key, qty] of Object.entries(units ?? {}) as [UnitKey, number][]) {
    if (!(qty > 0)) continue;
    const price = unitPrice(p, key, imageSize);
    if (price === null) unpriced.push(key);
    else usd += qty * price;
  }
  return { usd, unpriced };
}

function unitPrice(p: UnitPrices | undefined, key: UnitKey, imageSize: string | undefined): number | null {
  if (!p) return null;
  switch (key) {
    case "images": {
      if (p.image != null) return p.image;
      const pixels = pixelsOf(imageSize);
      return p.pixel != null && pixels !== null ? p.pixel * pixels : null;
    }
    case "audio_input_seconds":
      return p.audio_input_second ?? null;
    case "audio_output_seconds":
      return p.audio_output_second ?? null;
    case "characters":
      return p.character ?? null;
    case "queries":
      return p.query ?? null;
    case "web_searches":
      return p.web_search ?? null;
    case "video_seconds":
      return p.video_second ?? null;
    case "pages":
      return p.page ?? null;
  }
}
