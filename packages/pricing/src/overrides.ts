import type { Store } from "@tokenmeter/clickhouse";
import { fromClickHouseTime, type ModelPrices, type ServiceTierPrices, toClickHouseTime, type UnitPrices } from "@tokenmeter/core";

/** One org's price for one model from `effective_from_ms` on (model_price_overrides). */
export interface PriceOverride {
  org_id: string;
  /** The model name as events report it (matched exactly, then case-insensitively). */
  model: string;
  effective_from_ms: number;
  prices: ModelPrices;
}

interface OverrideRow {
  org_id: string;
  model: string;
  effective_from: string;
  input_cost_per_token: number;
  output_cost_per_token: number;
  cache_read_cost_per_token: number | null;
  cache_write_cost_per_token: number | null;
  reasoning_cost_per_token: number | null;
  extra_json: string;
}

/** Every override of every org, oldest first per (org, model). */
export async function loadPriceOverrides(store: Store): Promise<PriceOverride[]> {
  const rows = await store.query<OverrideRow>(
    `SELECT org_id, model, toString(effective_from) AS effective_from, input_cost_per_token, output_cost_per_token,
       cache_read_cost_per_token, cache_write_cost_per_token, reasoning_cost_per_token, extra_json
     FROM model_price_overrides FINAL ORDER BY org_id, model, effective_from`,
  );
  return rows.map((r) => ({
    org_id: r.org_id,
    model: r.model,
    effective_from_ms: fromClickHouseTime(r.effective_from),
    prices: {
      input: Number(r.input_cost_per_token),
      output: Number(r.output_cost_per_token),
      cache_read: r.cache_read_cost_per_token === null ? null : Number(r.cache_read_cost_per_token),
      cache_write: r.cache_write_cost_per_token === null ? null : Number(r.cache_write_cost_per_token),
      reasoning: r.reasoning_cost_per_token === null ? null : Number(r.reasoning_cost_per_token),
      tiers: [],
      ...(JSON.parse(r.extra_json || "{}") as { units?: UnitPrices; service_tiers?: ServiceTierPrices }),
    },
  }));
}

/** Records one override (the same org, model and instant again replaces it). */
export async function savePriceOverride(store: Store, o: PriceOverride): Promise<void> {
  const extra = { ...(o.prices.units ? { units: o.prices.units } : {}) };
  await store.insert("model_price_overrides", [
    {
      org_id: o.org_id,
      model: o.model,
      effective_from: toClickHouseTime(o.effective_from_ms),
      input_cost_per_token: o.prices.input,
      output_cost_per_token: o.prices.output,
      cache_read_cost_per_token: o.prices.cache_read,
      cache_write_cost_per_token: o.prices.cache_write,
      reasoning_cost_per_token: o.prices.reasoning,
      extra_json: Object.keys(extra).length > 0 ? JSON.stringify(extra) : "",
    },
  ]);
}
