import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { assertIdentifier, type Store } from "./store.js";

export interface RebuildRollupsOptions {
  /** First month to rebuild, "YYYY-MM" (UTC). */
  fromMonth: string;
  /** Last month to rebuild, inclusive, "YYYY-MM". */
  toMonth: string;
  /** Raw table the materialized views read. Default "llm_usage". */
  source?: string;
  /**
   * Raw rows live this many months (the raw table's TTL). Older months are
   * skipped unless `force`: their raw rows are partly gone, and rebuilding
   * from them would shrink rollups that outlive raw (daily keeps 25 months).
   */
  rawRetentionMonths?: number;
  /** Rebuild months even where raw rows may have expired. Default false. */
  force?: boolean;
  /** Rebuild + verify attempts per month (ingest writing the month meanwhile can race). Default 3. */
  maxAttempts?: number;
  /** Only these rollup tables (default: every rollup fed by `source`). */
  targets?: readonly string[];
  /** "Now" for the retention check. Default the wall clock. */
  now?: Date;
  logger?: Logger;
}

export type MonthStatus = "rebuilt" | "skipped_expired" | "mismatch";

export interface MonthResult {
  month: string;
  status: MonthStatus;
  raw_requests: number;
  /** requests summed per rollup table after the rebuild */
  rollups: Record<string, number>;
  attempts: number;
}

interface Rollup {
  view: string;
  target: string;
  select: string;
}

/**
 * Rebuilds every rollup fed by `source` (today llm_usage_daily,
 * llm_usage_hourly and llm_usage_model_hourly) for whole months, from raw rows:
 *
 * 1. for each materialized view on the raw table, fill a staging copy of its
 *    target with the view's own SELECT (read from the engine, so never out of
 *    step with the schema) over that month of raw rows;
 * 2. `ALTER TABLE target REPLACE PARTITION … FROM staging` swaps the month in
 *    atomically: readers see the old month or the new one, never half;
 * 3. verify each rollup's requests equal the raw row count; retry on a
 *    mismatch (ingest inserting into the month between 1 and 2 races).
 *
 * Re-running is harmless: a month is always replaced whole, so totals equal
 * raw after one run or ten. Used by `tokenmeter rebuild-rollups` and by
 * re-pricing (after raw cost_usd changes).
 */
export async function rebuildRollups(store: Store, opts: RebuildRollupsOptions): Promise<MonthResult[]> {
  const source = assertIdentifier(opts.source ?? "llm_usage");
  const months = monthRange(opts.fromMonth, opts.toMonth);
  const oldestSafe = monthIndex(monthKey(opts.now ?? new Date())) - ((opts.rawRetentionMonths ?? 13) - 1);
  const rollups = (await findRollups(store, source)).filter((r) => !opts.targets || opts.targets.includes(r.target));
  const sourceKey = await partitionKey(store, source);
  await dropStaleStaging(store, rollups);
  const results: MonthResult[] = [];
  for (const month of months) {
    if (!opts.force && monthIndex(month) < oldestSafe) {
      opts.logger?.warn({ op: "rebuild_rollups", month, reason: "raw rows past retention; use force to rebuild anyway" }, "month skipped");
      results.push({ month, status: "skipped_expired", raw_requests: 0, rollups: {}, attempts: 0 });
      continue;
    }
    results.push(await rebuildMonth(store, { source, sourceKey, rollups, month, maxAttempts: opts.maxAttempts ?? 3, logger: opts.logger }));
  }
  return results;
}

async function rebuildMonth(
  store: Store,
  a: { source: string; sourceKey: string; rollups: Rollup[]; month: string; maxAttempts: number; logger: Logger | undefined },
): Promise<MonthResult> {
  const partition = a.month.replace("-", "");
  const params = { month: Number(partition) };
  let attempt = 0;
  let last: MonthResult = { month: a.month, status: "mismatch", raw_requests: 0, rollups: {}, attempts: 0 };
  while (attempt < a.maxAttempts) {
    attempt++;
    const started = Date.now();
    for (const r of a.rollups) await replaceMonth(store, r, a, partition);
    // 3. verify
    const [raw] = await store.query<{ n: number }>(`SELECT count() AS n FROM ${a.source} WHERE ${a.sourceKey} = {month:UInt32}`, params);
    const sums: Record<string, number> = {};
    const rawCount = Number(raw?.n ?? 0);
    let ok = true;
    for (const r of a.rollups) {
      // A fan-out rollup (one row per promoted tag key per event) holds the raw count once per key.
      const fanout = /\bARRAY JOIN\b/i.test(r.select);
      const rows = await store.query<{ n: number }>(
        `SELECT sum(requests) AS n FROM ${r.target} WHERE _partition_id = {id:String}${fanout ? " GROUP BY tag_key" : ""}`,
        { id: partition },
      );
      const counts = rows.map((x) => Number(x.n ?? 0));
      sums[r.target] = counts.length === 0 ? 0 : Math.max(...counts);
      ok &&= fanout ? counts.every((n) => n === rawCount) : (counts[0] ?? 0) === rawCount;
    }
    last = { month: a.month, status: ok ? "rebuilt" : "mismatch", raw_requests: rawCount, rollups: sums, attempts: attempt };
    a.logger?.info({ op: "rebuild_rollups", month: a.month, attempt, raw_requests: rawCount, rollups: sums, ok, ms: Date.now() - started });
    if (ok) return last;
  }
  a.logger?.error({ op: "rebuild_rollups", ...last }, "rollups still differ from raw after all attempts");
  return last;
}

async function replaceMonth(store: Store, r: Rollup, a: { source: string; sourceKey: string; month: string }, partition: string) {
  const staging = `${r.target}_rebuild_${randomBytes(4).toString("hex")}`;
  try {
    // 1. staging: same engine, ORDER BY and PARTITION BY as the target, which REPLACE PARTITION requires
    await store.command(`CREATE TABLE ${staging} AS ${r.target}`);
    const select = r.select.replace(
      new RegExp(`\\bFROM\\s+(\\w+\\.)?${a.source}\\b`),
      `FROM (SELECT * FROM ${a.source} WHERE ${a.sourceKey} = {month:UInt32}) AS ${a.source}`,
    );
    if (select === r.select) throw new Error(`${r.view}: cannot find "FROM ${a.source}" in the view's SELECT`);
    await store.command(`INSERT INTO ${staging} ${select}`, { month: Number(partition) }, { settings: { insert_deduplicate: 0 } });
    // 2. swap the month in. The partition id is digits checked by monthRange, never user text.
    // ClickHouse refuses to replace from an empty source; no raw rows means an empty month.
    const [parts] = await store.query<{ n: number }>(
      "SELECT count() AS n FROM system.parts WHERE database = {db:String} AND table = {t:String} AND active AND partition_id = {id:String}",
      { db: store.database, t: staging, id: partition },
    );
    if (Number(parts?.n ?? 0) === 0) await store.command(`ALTER TABLE ${r.target} DROP PARTITION ID '${partition}'`);
    else await store.command(`ALTER TABLE ${r.target} REPLACE PARTITION ID '${partition}' FROM ${staging}`);
  } finally {
    await store.command(`DROP TABLE IF EXISTS ${staging}`);
  }
}

/** Materialized views on `source`, their targets and SELECTs, as the engine has them. */
async function findRollups(store: Store, source: string): Promise<Rollup[]> {
  const views = await store.query<{ name: string; as_select: string; create_table_query: string }>(
    `SELECT name, as_select, create_table_query FROM system.tables
     WHERE database = {db:String} AND engine = 'MaterializedView'
       AND has((SELECT dependencies_table FROM system.tables WHERE database = {db:String} AND name = {source:String}), name)
     ORDER BY name`,
    { db: store.database, source },
  );
  const rollups: Rollup[] = [];
  for (const v of views) {
    const target = /\bTO\s+(?:`?\w+`?\.)?`?(\w+)`?/.exec(v.create_table_query)?.[1];
    if (!target) throw new Error(`${v.name}: only views with TO <table> can be rebuilt`);
    const key = await partitionKey(store, target);
    if (!/^toYYYYMM\(/.test(key)) throw new Error(`${target}: partitioned by ${key}, not by month; cannot rebuild by month`);
    rollups.push({ view: v.name, target, select: v.as_select });
  }
  if (rollups.length === 0) throw new Error(`no materialized views read ${source} in ${store.database}; run migrate first`);
  return rollups;
}

async function partitionKey(store: Store, table: string): Promise<string> {
  const [row] = await store.query<{ partition_key: string }>(
    "SELECT partition_key FROM system.tables WHERE database = {db:String} AND name = {t:String}",
    { db: store.database, t: table },
  );
  if (!row) throw new Error(`table ${table} not found in ${store.database}`);
  return row.partition_key;
}

/** Staging tables left by a run that died mid-way (a day old, so never a live run's). */
async function dropStaleStaging(store: Store, rollups: Rollup[]): Promise<void> {
  const stale = await store.query<{ name: string }>(
    `SELECT name FROM system.tables WHERE database = {db:String} AND match(name, {re:String})
       AND metadata_modification_time < now() - INTERVAL 1 DAY`,
    { db: store.database, re: `^(${rollups.map((r) => r.target).join("|")})_rebuild_[0-9a-f]{8}$` },
  );
  for (const t of stale) await store.command(`DROP TABLE IF EXISTS ${assertIdentifier(t.name)}`);
}

/** Months from `from` to `to` inclusive, "YYYY-MM" each; throws on bad input. */
export function monthRange(from: string, to: string): string[] {
  const a = monthIndex(from);
  const b = monthIndex(to);
  if (a > b) throw new RangeError(`month range is empty: ${from} is after ${to}`);
  if (b - a >= 120) throw new RangeError(`month range ${from}..${to} is over 10 years; split it`);
  const out: string[] = [];
  for (let i = a; i <= b; i++) out.push(`${Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, "0")}`);
  return out;
}

/** The UTC month of an instant, "YYYY-MM". */
export function monthKey(d: Date): string {
  return d.toISOString().slice(0, 7);
}

function monthIndex(month: string): number {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!m) throw new RangeError(`not a month (YYYY-MM): ${JSON.stringify(month)}`);
  return Number(m[1]) * 12 + Number(m[2]) - 1;
}
