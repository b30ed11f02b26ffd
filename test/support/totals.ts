import type { Store } from "@tokenmeter/clickhouse";
import { isError, type Pricer, reportedOrUnpriced, type UsageEvent } from "@tokenmeter/core";
import { expect } from "vitest";

/** Totals per org that every table (raw and each rollup) must agree on. */
export interface OrgTotals {
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  reasoning_tokens: number;
  /** Micro-dollars, rounded: float sums in different orders differ in the last bits. */
  cost_micros: number;
}

/** Expected totals from the produced (valid, unique) events, priced like ingest prices them (default: reported or 0). */
export function expectedTotals(events: Iterable<UsageEvent>, pricer: Pricer = reportedOrUnpriced): Record<string, OrgTotals> {
  const out: Record<string, OrgTotals> = {};
  const cost: Record<string, number> = {};
  for (const e of events) {
    const t = out[e.org_id] ?? zero();
    out[e.org_id] = t;
    t.requests++;
    if (isError(e)) t.errors++;
    t.input_tokens += e.input_tokens;
    t.output_tokens += e.output_tokens;
    t.cached_input_tokens += e.cached_input_tokens;
    t.reasoning_tokens += e.reasoning_tokens;
    cost[e.org_id] = (cost[e.org_id] ?? 0) + pricer.price(e).cost_usd;
  }
  for (const [org, c] of Object.entries(cost)) out[org]!.cost_micros = Math.round(c * 1e6);
  return out;
}

function zero(): OrgTotals {
  return { requests: 0, errors: 0, input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, reasoning_tokens: 0, cost_micros: 0 };
}

const SUMS = `sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
  sum(cached_input_tokens) AS cached_input_tokens, sum(reasoning_tokens) AS reasoning_tokens,
  round(sum(cost_usd) * 1000000) AS cost_micros`;

/** Every table that counts events: raw and each rollup fed from it by a materialized view. */
export const COUNTING_TABLES = {
  raw: "llm_usage",
  daily: "llm_usage_daily",
  hourly: "llm_usage_hourly",
  model_hourly: "llm_usage_model_hourly",
} as const;
export type CountingTable = keyof typeof COUNTING_TABLES;

/** Stored totals per org in raw and every rollup (read with sum(), parts need not be merged). */
export async function storedTotals(store: Store): Promise<Record<CountingTable, Record<string, OrgTotals>>> {
  const out = {} as Record<CountingTable, Record<string, OrgTotals>>;
  for (const [name, table] of Object.entries(COUNTING_TABLES) as [CountingTable, string][]) {
    const counts =
      name === "raw"
        ? "count() AS requests, countIf(status_code >= 400 OR error_code != '') AS errors"
        : "sum(requests) AS requests, sum(errors) AS errors";
    const rows = await store.query<OrgTotals & { org_id: string }>(`SELECT org_id, ${counts}, ${SUMS} FROM ${table} GROUP BY org_id`);
    out[name] = Object.fromEntries(
      rows.map(({ org_id, ...t }) => [
        org_id,
        Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Number(v)])) as unknown as OrgTotals,
      ]),
    );
  }
  return out;
}

/** Empties raw and every rollup, so a test's totals hold only its own events. */
export async function truncateCounting(store: Store): Promise<void> {
  for (const table of Object.values(COUNTING_TABLES)) await store.command(`TRUNCATE TABLE ${table}`);
}

/** event_ids stored more than once in raw (must be none). */
export async function duplicateIds(store: Store): Promise<number> {
  const r = await store.query<{ n: number }>(
    "SELECT count() AS n FROM (SELECT event_id FROM llm_usage GROUP BY event_id HAVING count() > 1)",
  );
  return Number(r[0]?.n ?? 0);
}

/**
 * Raw and every rollup agree with the events: counts and token sums
 * exact per org, cost within 2 micro-dollars (float sums in another order),
 * and no event_id stored twice.
 */
export async function expectExactly(store: Store, events: UsageEvent[], pricer: Pricer = reportedOrUnpriced): Promise<void> {
  const expected = expectedTotals(events, pricer);
  const stored = await storedTotals(store);
  expect(await duplicateIds(store)).toBe(0);
  for (const table of Object.keys(COUNTING_TABLES) as CountingTable[]) {
    expect(Object.keys(stored[table]).sort()).toEqual(Object.keys(expected).sort());
    for (const [org, t] of Object.entries(expected)) {
      const s = stored[table][org] as OrgTotals;
      expect({ table, org, ...s, cost_micros: 0 }).toEqual({ table, org, ...t, cost_micros: 0 });
      expect(Math.abs(s.cost_micros - t.cost_micros)).toBeLessThanOrEqual(2);
    }
  }
}
