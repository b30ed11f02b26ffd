import { randomBytes } from "node:crypto";
import { type MonthResult, monthKey, rebuildRollups, type Store } from "@tokenmeter/clickhouse";
import {
  type CostBreakdown,
  type CostSource,
  oldestAcceptedMs,
  type ServiceTier,
  toClickHouseTime,
  type UsageEvent,
  usdText,
} from "@tokenmeter/core";
import type { Logger } from "pino";
import type { PriceBook } from "./price-book.js";

export interface RepriceOptions {
  store: Store;
  /** Prices to apply: load or reload it first, so it holds the newest versions. */
  book: PriceBook;
  /** Event-time range, `to` exclusive. */
  from: Date;
  to: Date;
  /** Only this model (as stored in llm_usage). */
  model?: string;
  /** Only this org's rows (the primary key's first column, so the scan reads only its slice). */
  orgId?: string;
  /**
   * Only rows stored (ingested_at, the store's clock) at or after this instant:
   * the straggler pass of a price override, which looks for the few rows
   * inserted after its first pass had scanned their day.
   */
  ingestedSince?: Date;
  /**
   * Stops the run at its next safe point (before a day's scan or a month's
   * rewrite; a month being rewritten is finished with its rollups), rejecting
   * with the signal's reason.
   */
  signal?: AbortSignal;
  logger: Logger;
  onProgress?: (p: RepriceProgress) => void;
  /** Injected clock for the raw-retention guard. */
  now?: () => number;
  /** Only compute the report; change nothing. */
  dryRun?: boolean;
}

export interface RepriceProgress {
  day: string;
  days_done: number;
  days_total: number;
  rows_scanned: number;
  rows_changed: number;
}

export interface ModelDiff {
  provider: string;
  model: string;
  /** Rows considered (computed or unpriced, in range). */
  requests: number;
  /** Rows whose cost, source or version changed. */
  changed: number;
  old_cost_usd: number;
  new_cost_usd: number;
  old_unpriced: number;
  new_unpriced: number;
}

export interface RepriceReport {
  from: string;
  to: string;
  rows_scanned: number;
  rows_changed: number;
  dry_run: boolean;
  /** Months whose raw costs were rewritten and rollups rebuilt. */
  months: MonthResult[];
  models: ModelDiff[];
}

interface CandidateRow {
  event_id: string;
  t: number;
  org_id: string;
  provider: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  units: Record<string, number>;
  service_tier: ServiceTier;
  image_size: string;
  image_quality: string;
  cost_usd: number;
  cost_source: CostSource;
  pricing_version: string;
}

interface Change {
  event_id: string;
  cost_usd: number;
  cost_source: CostSource;
  pricing_version: string;
  /** Absent: the row keeps its breakdown (a computed row whose price is gone) or has none (unpriced). */
  breakdown?: CostBreakdown;
}

/** The breakdown columns of llm_usage (0006) and the CostBreakdown part each holds. */
const BREAKDOWN_COLUMNS = [
  ["cost_input_usd", "input"],
  ["cost_cached_input_usd", "cached_input"],
  ["cost_cache_write_usd", "cache_write"],
  ["cost_output_usd", "output"],
  ["cost_reasoning_usd", "reasoning"],
  ["cost_units_usd", "units"],
] as const;

const DAY_MS = 86_400_000;
/** Costs equal to this are "unchanged": both sides come from the same computeCost, so any real change is far larger. */
const COST_EPSILON = 1e-12;

/**
 * Re-prices computed and unpriced events of a time range with the prices in
 * effect at each event's time (reported costs are never touched):
 * 1. scan the range a UTC day at a time and price every candidate row with the
 *    PriceBook (the same code ingest uses), collecting only rows that change;
 * 2. per month with changes, load them into a Join table and rewrite the raw
 *    rows in place (ALTER TABLE … UPDATE … joinGet, mutations_sync = 2) —
 *    an in-place mutation, so rows ingested meanwhile are never lost;
 * 3. rebuild that month's rollups from raw (staging + REPLACE PARTITION,
 *    verified against the raw row count) so usage/models/summary stay exact.
 * Idempotent: a second run finds no row to change and rewrites nothing.
 */
export async function reprice(opts: RepriceOptions): Promise<RepriceReport> {
  const log = opts.logger.child({ op: "reprice" });
  const fromMs = opts.from.getTime();
  const toMs = opts.to.getTime();
  if (!(fromMs < toMs)) throw new RangeError("reprice: from must be before to");
  const oldest = oldestAcceptedMs(opts.now?.() ?? Date.now());
  if (fromMs < oldest) {
    // Raw rows older than the TTL are gone; rebuilding those months would shrink rollups that outlive raw.
    throw new RangeError(
      `reprice: from is before the raw retention (${new Date(oldest).toISOString()}); rollups there cannot be rebuilt from raw`,
    );
  }
  const models = new Map<string, ModelDiff>();
  const changesByMonth = new Map<string, Change[]>();
  let scanned = 0;
  let changedRows = 0;
  // 1. scan and price, a day at a time to bound memory
  const days = Math.ceil((toMs - fromMs) / DAY_MS);
  for (let i = 0; i < days; i++) {
    const start = fromMs + i * DAY_MS;
    const end = Math.min(toMs, start + DAY_MS);
    opts.signal?.throwIfAborted();
    const rows = await scanCandidates(opts.store, start, end, opts);
    for (const r of rows) {
      scanned++;
      const next = priceRow(opts.book, r);
      const d = modelDiff(models, r);
      d.requests++;
      d.old_cost_usd += r.cost_usd;
      d.new_cost_usd += next.cost_usd;
      if (r.cost_source === "unpriced") d.old_unpriced++;
      if (next.cost_source === "unpriced") d.new_unpriced++;
      if (!changed(r, next)) continue;
      d.changed++;
      changedRows++;
      const month = monthKey(new Date(r.t));
      const list = changesByMonth.get(month) ?? [];
      list.push(next);
      changesByMonth.set(month, list);
    }
    opts.onProgress?.({
      day: new Date(start).toISOString().slice(0, 10),
      days_done: i + 1,
      days_total: days,
      rows_scanned: scanned,
      rows_changed: changedRows,
    });
  }
  // 2 + 3. rewrite raw, rebuild rollups, month by month
  const months: MonthResult[] = [];
  for (const [month, changes] of opts.dryRun ? [] : [...changesByMonth].sort(([a], [b]) => a.localeCompare(b))) {
    // Never between the raw rewrite and the rebuild: rollups would disagree with raw until the next run.
    opts.signal?.throwIfAborted();
    await applyChanges(opts.store, month, changes);
    const [result] = await rebuildRollups(opts.store, {
      fromMonth: month,
      toMonth: month,
      logger: log,
      now: new Date(opts.now?.() ?? Date.now()),
    });
    if (result) months.push(result);
    log.info({ month, rows_changed: changes.length, rollups: result?.status }, "month re-priced");
  }
  const report: RepriceReport = {
    from: opts.from.toISOString(),
    to: opts.to.toISOString(),
    rows_scanned: scanned,
    rows_changed: changedRows,
    dry_run: opts.dryRun === true,
    months,
    models: [...models.values()].sort((a, b) => b.new_cost_usd - a.new_cost_usd || a.model.localeCompare(b.model)),
  };
  log.info({ rows_scanned: scanned, rows_changed: changedRows, months: months.map((m) => m.month) }, "reprice done");
  return report;
}

const SCAN_SQL = `SELECT toString(event_id) AS event_id, toUnixTimestamp64Milli(event_time) AS t, org_id, provider, model,
  input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens,
  units, service_tier, image_size, image_quality, cost_usd, cost_source, pricing_version
FROM llm_usage
WHERE event_time >= {from:DateTime64(3, 'UTC')} AND event_time < {to:DateTime64(3, 'UTC')}
  AND cost_source IN ('computed', 'unpriced')`;

/** Which candidate rows a scan reads besides the time window. */
export interface ScanFilter {
  model?: string;
  orgId?: string;
  ingestedSince?: Date;
}

/** The candidate rows of one window; exported for the exact-SQL test. */
export function scanSql(f: ScanFilter = {}): string {
  let sql = SCAN_SQL;
  if (f.model !== undefined) sql += "\n  AND model = {model:String}";
  if (f.orgId !== undefined) sql += "\n  AND org_id = {org_id:String}";
  if (f.ingestedSince !== undefined) sql += "\n  AND ingested_at >= {ingested_since:DateTime64(3, 'UTC')}";
  return sql;
}

async function scanCandidates(store: Store, fromMs: number, toMs: number, f: ScanFilter): Promise<CandidateRow[]> {
  const params: Record<string, unknown> = { from: toClickHouseTime(fromMs), to: toClickHouseTime(toMs) };
  if (f.model !== undefined) params.model = f.model;
  if (f.orgId !== undefined) params.org_id = f.orgId;
  if (f.ingestedSince !== undefined) params.ingested_since = toClickHouseTime(f.ingestedSince.getTime());
  const rows = await store.query<CandidateRow>(scanSql(f), params);
  return rows.map((r) => ({ ...r, t: Number(r.t), cost_usd: Number(r.cost_usd) }));
}

function priceRow(book: PriceBook, r: CandidateRow): Change {
  const v = book.lookup(r.provider, r.model, r.t) ?? book.override(r.org_id, r.model, r.t);
  // A computed row whose price cannot be found now keeps its cost: never un-price what was priced.
  if (!v)
    return r.cost_source === "computed" ? { ...r } : { event_id: r.event_id, cost_usd: 0, cost_source: "unpriced", pricing_version: "" };
  const e = {
    cost_usd: null,
    org_id: r.org_id,
    event_time_ms: r.t,
    provider: r.provider,
    model: r.model,
    ...tokens(r),
    units: r.units,
    service_tier: r.service_tier,
    image_size: r.image_size,
    image_quality: r.image_quality,
  } as UsageEvent;
  return { event_id: r.event_id, ...book.price(e) };
}

function tokens(r: CandidateRow) {
  return {
    input_tokens: Number(r.input_tokens),
    output_tokens: Number(r.output_tokens),
    cached_input_tokens: Number(r.cached_input_tokens),
    cache_write_tokens: Number(r.cache_write_tokens),
    reasoning_tokens: Number(r.reasoning_tokens),
  };
}

function changed(r: CandidateRow, next: Change): boolean {
  return (
    r.cost_source !== next.cost_source || r.pricing_version !== next.pricing_version || Math.abs(r.cost_usd - next.cost_usd) > COST_EPSILON
  );
}

function modelDiff(models: Map<string, ModelDiff>, r: CandidateRow): ModelDiff {
  const key = `${r.provider}\u0000${r.model}`;
  let d = models.get(key);
  if (!d) {
    d = {
      provider: r.provider,
      model: r.model,
      requests: 0,
      changed: 0,
      old_cost_usd: 0,
      new_cost_usd: 0,
      old_unpriced: 0,
      new_unpriced: 0,
    };
    models.set(key, d);
  }
  return d;
}

/** Rewrites the changed raw rows of one month in place through a Join table keyed by event_id. */
async function applyChanges(store: Store, month: string, changes: Change[]): Promise<void> {
  const join = `reprice_join_${randomBytes(4).toString("hex")}`;
  const qualified = `${store.database}.${join}`;
  try {
    await store.command(
      `CREATE TABLE ${join} (event_id UUID, cost_usd Decimal(38, 12), ${BREAKDOWN_COLUMNS.map(([c]) => `${c} Decimal(38, 12)`).join(", ")},
         cost_source String, pricing_version String) ENGINE = Join(ANY, LEFT, event_id)`,
    );
    // Money as Decimal text (usdText): a JSON float would be truncated by the engine, not rounded.
    await store.insert(
      join,
      changes.map((c) => ({
        event_id: c.event_id,
        cost_usd: usdText(c.cost_usd),
        ...Object.fromEntries(BREAKDOWN_COLUMNS.map(([col, part]) => [col, usdText(c.breakdown?.[part] ?? 0)])),
        cost_source: c.cost_source,
        pricing_version: c.pricing_version,
      })),
    );
    const get = (col: string) => `joinGet('${qualified}', '${col}', event_id)`;
    const breakdown = BREAKDOWN_COLUMNS.map(([c]) => `, ${c} = ${get(c)}`).join("");
    await store.command(
      `ALTER TABLE llm_usage UPDATE cost_usd = ${get("cost_usd")}${breakdown}, cost_source = ${get("cost_source")}, pricing_version = ${get("pricing_version")}
       WHERE toYYYYMM(event_time) = {month:UInt32} AND ${get("cost_source")} != ''`,
      { month: Number(month.replace("-", "")) },
      // mutations_sync = 2: the rollup rebuild that follows must read the rewritten rows.
      { settings: { mutations_sync: 2, allow_nondeterministic_mutations: 1 }, timeoutMs: 600_000 },
    );
  } finally {
    await store.command(`DROP TABLE IF EXISTS ${join}`);
  }
}
