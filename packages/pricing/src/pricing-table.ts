import type { Store } from "@tokenmeter/clickhouse";
import {
  fromClickHouseTime,
  type ModelPrices,
  type PriceTier,
  type ServiceTierPrices,
  toClickHouseTime,
  type UnitPrices,
} from "@tokenmeter/core";
import type { ModelPriceEntry } from "./litellm.js";

/** One model's prices from `effective_from_ms` on, as written by one refresh `version`. */
export interface PriceVersion extends ModelPriceEntry {
  effective_from_ms: number;
  version: string;
  /** Where the prices came from: a URL, a file path or "bundled:<file>". */
  source: string;
}

/** A row of model_pricing as stored (JSONEachRow). */
interface PricingRow {
  model: string;
  provider: string;
  mode: string;
  effective_from: string;
  version: string;
  source: string;
  input_cost_per_token: number;
  output_cost_per_token: number;
  cache_read_cost_per_token: number | null;
  cache_write_cost_per_token: number | null;
  reasoning_cost_per_token: number | null;
  tiers_json: string;
  /** v1.1 (0008): {"units": UnitPrices, "service_tiers": ServiceTierPrices}, '' when neither. */
  extra_json: string;
}

const SELECT_ALL = `SELECT model, provider, mode, toString(effective_from) AS effective_from, version, source,
  input_cost_per_token, output_cost_per_token, cache_read_cost_per_token, cache_write_cost_per_token,
  reasoning_cost_per_token, tiers_json, extra_json
FROM model_pricing FINAL
ORDER BY model, effective_from`;

/** Every price version, oldest first per model. */
export async function loadPriceVersions(store: Store): Promise<PriceVersion[]> {
  const rows = await store.query<PricingRow>(SELECT_ALL);
  return rows.map(fromRow);
}

/**
 * Appends price versions. The dedup token makes a retried insert of the same
 * refresh land once; ReplacingMergeTree collapses any repeat that slips past.
 */
export async function insertPriceVersions(store: Store, versions: readonly PriceVersion[]): Promise<void> {
  if (versions.length === 0) return;
  const token = `model_pricing:${versions[0]?.version}:${versions.length}`;
  await store.insert("model_pricing", versions.map(toRow), { settings: { insert_deduplication_token: token } });
}

export function toRow(v: PriceVersion): PricingRow {
  return {
    model: v.model,
    provider: v.provider,
    mode: v.mode,
    effective_from: toClickHouseTime(v.effective_from_ms),
    version: v.version,
    source: v.source,
    input_cost_per_token: v.prices.input,
    output_cost_per_token: v.prices.output,
    cache_read_cost_per_token: v.prices.cache_read,
    cache_write_cost_per_token: v.prices.cache_write,
    reasoning_cost_per_token: v.prices.reasoning,
    tiers_json: JSON.stringify(v.prices.tiers),
    extra_json: extraJson(v.prices),
  };
}

const UNIT_ORDER = [
  "image",
  "pixel",
  "audio_input_second",
  "audio_output_second",
  "character",
  "query",
  "web_search",
  "video_second",
  "page",
];
const TIER_ORDER = ["batch", "flex", "priority"];
const TOKEN_ORDER = ["input", "output", "cache_read", "cache_write", "reasoning"];

/** The unit and service-tier prices as stored: keys in a fixed order (the diff compares the text), '' when none. */
export function extraJson(p: ModelPrices): string {
  const pick = (o: Record<string, unknown> | undefined, order: string[]) =>
    o ? Object.fromEntries(order.filter((k) => o[k] != null).map((k) => [k, o[k]])) : {};
  const units = pick(p.units as Record<string, unknown> | undefined, UNIT_ORDER);
  const tiers = Object.fromEntries(
    TIER_ORDER.filter((t) => p.service_tiers?.[t as keyof ServiceTierPrices]).map((t) => [
      t,
      pick(p.service_tiers?.[t as keyof ServiceTierPrices] as Record<string, unknown>, TOKEN_ORDER),
    ]),
  );
  const out = {
    ...(Object.keys(units).length > 0 ? { units } : {}),
    ...(Object.keys(tiers).length > 0 ? { service_tiers: tiers } : {}),
  };
  return Object.keys(out).length > 0 ? JSON.stringify(out) : "";
}

function fromRow(r: PricingRow): PriceVersion {
  return {
    model: r.model,
    provider: r.provider,
    mode: r.mode,
    effective_from_ms: fromClickHouseTime(r.effective_from),
    version: r.version,
    source: r.source,
    prices: {
      input: Number(r.input_cost_per_token),
      output: Number(r.output_cost_per_token),
      cache_read: r.cache_read_cost_per_token === null ? null : Number(r.cache_read_cost_per_token),
      cache_write: r.cache_write_cost_per_token === null ? null : Number(r.cache_write_cost_per_token),
      reasoning: r.reasoning_cost_per_token === null ? null : Number(r.reasoning_cost_per_token),
      tiers: JSON.parse(r.tiers_json || "[]") as PriceTier[],
      ...(JSON.parse(r.extra_json || "{}") as { units?: UnitPrices; service_tiers?: ServiceTierPrices }),
    },
  };
}
