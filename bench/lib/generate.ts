import type { ChdbStore } from "@tokenmeter/clickhouse";
import type { ResultCache } from "@tokenmeter/query";

const DAY_MS = 86_400_000;

/** Where generated events fall: `days` days back from `end`, spread over `orgs` (each with its share of events). */
export interface GeneratedShape {
  end: number;
  days: number;
  /** Org ids and their shares (fractions summing to 1), most events first. */
  orgs: readonly [string, number][];
}

/** The query bench's shape: four orgs, acme holding 60 % of the events. */
export const FOUR_ORGS: GeneratedShape["orgs"] = [
  ["acme", 0.6],
  ["globex", 0.2],
  ["initech", 0.1],
  ["umbrella", 0.1],
];

/**
 * INSERT … SELECT of `count` generated llm_usage rows numbered from `offset`
 * (the engine writes the rows and fills every rollup through the MVs, no JS
 * objects). Hashes with different seeds stand in for independent random
 * fields, so the same numbers give the same rows.
 */
export function insertSql(offset: number, count: number, shape: GeneratedShape): string {
  const h = (seed: number) => `cityHash64(number, ${seed})`;
  const user = `(${h(3)} % 2000)`;
  const agent = `(${user} % 40)`;
  const start = shape.end - shape.days * DAY_MS;
  let cumulative = 0;
  const branches = shape.orgs.slice(0, -1).map(([org, share]) => {
    cumulative += share;
    return `${h(2)} % 1000 < ${Math.round(cumulative * 1000)}, '${org}'`;
  });
  const org = `multiIf(${[...branches, `'${shape.orgs[shape.orgs.length - 1]![0]}'`].join(", ")})`;
  return `INSERT INTO llm_usage (event_id, event_time, org_id, project_id, user_id, agent_id, provider, model, operation,
    input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_usd, cost_source, duration_ms, ttfb_ms,
    proxy_overhead_ms, status_code, error_code, source)
  SELECT
    generateUUIDv4(number),
    fromUnixTimestamp64Milli(toInt64(${start} + ${h(1)} % ${shape.days * DAY_MS}), 'UTC'),
    ${org},
    ['web', 'api', 'batch', 'mobile'][${agent} % 4 + 1],
    concat('u', toString(${user})),
    concat('agent-', toString(${agent})),
    ['openai', 'openai', 'anthropic', 'google'][(${agent} + ${h(4)} % 2) % 4 + 1],
    ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4', 'gemini-2.5-pro'][(${agent} + ${h(4)} % 2) % 4 + 1],
    'chat',
    ${h(5)} % 6000,
    ${h(6)} % 1500,
    ${h(7)} % 1000,
    ${h(8)} % 200,
    (${h(9)} % 100000) / 1e7,
    if(${h(10)} % 40 = 0, 'unpriced', 'computed'),
    if(${h(11)} % 20 = 0, NULL, toUInt32(200 + ${h(11)} % 20000)),
    toUInt32(50 + ${h(12)} % 2000),
    toUInt32(${h(13)} % 40),
    if(${h(14)} % 50 = 0, 500, if(${h(14)} % 70 = 0, 429, 200)),
    multiIf(${h(14)} % 50 = 0, 'timeout', ${h(14)} % 70 = 0, 'rate_limit', ''),
    'bench'
  FROM numbers(${offset}, ${count})`;
}

/** Waits (bounded) until no merge runs for 3 s in a row; returns how long it waited. */
export async function waitForMerges(store: ChdbStore, maxMs: number): Promise<number> {
  const started = performance.now();
  let quietSince = performance.now();
  while (performance.now() - started < maxMs) {
    const [r] = await store.query<{ n: number }>("SELECT count() AS n FROM system.merges WHERE database = currentDatabase()");
    if (Number(r?.n ?? 0) > 0) quietSince = performance.now();
    else if (performance.now() - quietSince >= 3_000) break;
    await new Promise((res) => setTimeout(res, 500));
  }
  return performance.now() - started;
}

/** Active parts per table: how merged the store is when measured. */
export async function activeParts(store: ChdbStore): Promise<Record<string, number>> {
  const rows = await store.query<{ table: string; n: number }>(
    "SELECT table, count() AS n FROM system.parts WHERE database = currentDatabase() AND active GROUP BY table ORDER BY table",
  );
  return Object.fromEntries(rows.map((r) => [r.table, Number(r.n)]));
}

/** A cache that never holds anything: every request is a miss that runs its store queries. */
export const NO_CACHE: ResultCache = { get: async () => null, set: async () => {}, ping: async () => {}, close: async () => {} };
