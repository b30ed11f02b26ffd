import type { Store } from "@tokenmeter/clickhouse";
import { ApiError, type AuthEnv, type AuthOptions, authenticate } from "@tokenmeter/http";
import {
  applyPriceOverride,
  latestByModel,
  loadPriceOverrides,
  loadPriceVersions,
  type PriceVersion,
  type PricingUpdates,
  type StragglerScheduler,
} from "@tokenmeter/pricing";
import { Hono } from "hono";
import { type Logger, pino } from "pino";
import { z } from "zod";

export interface PricingRoutesOptions {
  store: Store;
  auth: AuthOptions;
  /** Clock in epoch ms (default Date.now): the default range of /unpriced. */
  now?: () => number;
  /** Where a price override's re-pricing logs (default: silent). */
  logger?: Logger;
  /**
   * Where a saved override announces "pricing updated", so every process that
   * prices events reloads (Redis in a deployment, in-process in the all-in-one).
   */
  updates?: PricingUpdates;
  /**
   * Where a price override's straggler pass is scheduled, to run in the
   * background after the answer (createQueryService's StragglerPasses). Unset: none.
   */
  stragglers?: StragglerScheduler;
}

const price = z.number().finite().nonnegative();
/** PUT /v1/pricing/overrides/{model}: prices in USD per token, LiteLLM's names. */
export const OverrideBody = z.strictObject({
  input_cost_per_token: price,
  output_cost_per_token: price,
  cache_read_input_token_cost: price.optional(),
  cache_creation_input_token_cost: price.optional(),
  output_cost_per_reasoning_token: price.optional(),
  effective_from: z.iso
    .datetime({ offset: true, message: "must be an ISO-8601 instant with a zone" })
    .optional()
    .describe("Default 1970-01-01T00:00:00Z: the whole history of the model"),
});

const DAY_MS = 86_400_000;
/** Default and longest look-back of /v1/pricing/unpriced. */
const DEFAULT_UNPRICED_DAYS = 30;
const MAX_UNPRICED_DAYS = 400;

/**
 * Pricing endpoints for the dashboard, mounted by createQueryApp's `mount`:
 * - GET /v1/pricing/models — the prices in effect now, per model, with the
 *   latest version and its source (prices are global, but a credential is still required);
 * - GET /v1/pricing/unpriced — the caller's org's models seen without a price
 *   (`start`/`end`, default the last 30 days), most unpriced requests first.
 * Not cached: model_pricing is a few thousand rows and /unpriced reads the daily rollup.
 */
export function createPricingRoutes(opts: PricingRoutesOptions): Hono {
  const app = new Hono<AuthEnv>();
  const now = opts.now ?? Date.now;
  const logger = opts.logger ?? pino({ level: "silent" });
  app.use("/v1/pricing/*", authenticate(opts.auth));

  app.get("/v1/pricing/models", async (c) => {
    const latest = [...latestByModel(await loadPriceVersions(opts.store)).values()].sort((a, b) => a.model.localeCompare(b.model));
    const newest = latest.reduce<PriceVersion | undefined>((m, v) => (!m || v.effective_from_ms > m.effective_from_ms ? v : m), undefined);
    const filter = c.req.query("provider")?.toLowerCase();
    const models = latest.filter((v) => !filter || v.provider.toLowerCase() === filter).map(toModelPrice);
    return c.json({ version: newest?.version ?? "", source: newest?.source ?? "", count: models.length, models });
  });

  // Price overrides of the caller's org (a fine-tune, a self-hosted model): effective-dated, then its history re-priced.
  app.put("/v1/pricing/overrides/:model{.+}", async (c) => {
    const { org_id } = c.get("principal");
    const model = decodeURIComponent(c.req.param("model"));
    if (model.length === 0 || model.length > 256)
      throw new ApiError("invalid_parameter", "model must be 1-256 characters", { parameter: "model" });
    const parsed = OverrideBody.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ field: i.path.join(".") || "(body)", message: i.message }));
      throw new ApiError("invalid_parameter", issues.map((i) => `${i.field}: ${i.message}`).join("; "), { issues });
    }
    const b = parsed.data;
    const from = b.effective_from ? Date.parse(b.effective_from) : 0;
    const prices = {
      input: b.input_cost_per_token,
      output: b.output_cost_per_token,
      cache_read: b.cache_read_input_token_cost ?? null,
      cache_write: b.cache_creation_input_token_cost ?? null,
      reasoning: b.output_cost_per_reasoning_token ?? null,
      tiers: [],
    };
    // Saved, announced to every pricer, then the model's history re-priced (the same path as `tokenmeter pricing set`);
    // the straggler pass runs after the answer, which reports the first pass only.
    const applied = await applyPriceOverride({
      store: opts.store,
      override: { org_id, model, effective_from_ms: from, prices },
      updates: opts.updates,
      logger,
      now,
      stragglers: opts.stragglers,
    });
    const reprice = { rows_changed: applied.rows_changed, months: applied.months, pricing_updated: applied.published };
    return c.json({ org_id, model, effective_from: new Date(from).toISOString(), ...b, reprice });
  });

  app.get("/v1/pricing/overrides", async (c) => {
    const { org_id } = c.get("principal");
    const overrides = (await loadPriceOverrides(opts.store))
      .filter((o) => o.org_id === org_id)
      .map((o) => ({
        model: o.model,
        effective_from: new Date(o.effective_from_ms).toISOString(),
        input_cost_per_token: o.prices.input,
        output_cost_per_token: o.prices.output,
        cache_read_input_token_cost: o.prices.cache_read,
        cache_creation_input_token_cost: o.prices.cache_write,
        output_cost_per_reasoning_token: o.prices.reasoning,
      }));
    return c.json({ overrides });
  });

  app.get("/v1/pricing/unpriced", async (c) => {
    const { org_id } = c.get("principal");
    const end = instant(c.req.query("end"), "end") ?? Math.floor(now() / 60_000) * 60_000;
    const start = instant(c.req.query("start"), "start") ?? end - DEFAULT_UNPRICED_DAYS * DAY_MS;
    if (start >= end) throw new ApiError("invalid_parameter", "start must be before end", { parameter: "start" });
    if (end - start > MAX_UNPRICED_DAYS * DAY_MS) throw new ApiError("invalid_parameter", `span must be at most ${MAX_UNPRICED_DAYS} days`);
    const rows = await opts.store.query<UnpricedRow>(UNPRICED_SQL, { org_id, start_day: day(start), end_day: day(end - 1) });
    const models = rows.map((r) => ({
      provider: r.provider,
      model: r.model,
      unpriced_requests: Number(r.n_unpriced),
      requests: Number(r.n_requests),
      first_seen: r.first_seen,
      last_seen: r.last_seen,
    }));
    const total = models.reduce((s, m) => s + m.unpriced_requests, 0);
    return c.json({ start: new Date(start).toISOString(), end: new Date(end).toISOString(), unpriced_requests: total, models });
  });
  return app as unknown as Hono;
}

interface UnpricedRow {
  provider: string;
  model: string;
  n_unpriced: number;
  n_requests: number;
  first_seen: string;
  last_seen: string;
}

/** Whole UTC days of the daily rollup: the unpriced list is a to-do list, day precision is enough. */
export const UNPRICED_SQL = `SELECT provider, model, sum(unpriced_requests) AS n_unpriced, sum(requests) AS n_requests,
  toString(minIf(day, unpriced_requests > 0)) AS first_seen, toString(maxIf(day, unpriced_requests > 0)) AS last_seen
FROM llm_usage_daily
WHERE org_id = {org_id:String} AND day >= {start_day:Date} AND day <= {end_day:Date}
GROUP BY provider, model
HAVING n_unpriced > 0
ORDER BY n_unpriced DESC, provider, model`;

function toModelPrice(v: PriceVersion) {
  return {
    model: v.model,
    provider: v.provider,
    mode: v.mode,
    input_cost_per_token: v.prices.input,
    output_cost_per_token: v.prices.output,
    cache_read_cost_per_token: v.prices.cache_read,
    cache_write_cost_per_token: v.prices.cache_write,
    reasoning_cost_per_token: v.prices.reasoning,
    tiers: v.prices.tiers,
    effective_from: new Date(v.effective_from_ms).toISOString(),
    version: v.version,
    source: v.source,
  };
}

function instant(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw new ApiError("invalid_parameter", `${name} must be an ISO-8601 instant`, { parameter: name, received: value });
  return ms;
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
