/**
 * Scenario 3, second half: what the rollups buy. The same answers computed
 * twice with the query service's own SQL builder: once on the segments its
 * planner picks (daily/hourly rollups, raw rows for partial hours at the
 * edges), once forced onto raw rows only. Checks both answers are equal, then
 * reports p50/p99 of each and the speedup, on ≥ 10 M events over 90 days.
 *
 *   tsx bench/rollup-vs-raw.ts [--quick] [--events=10000000] [--runs=20]
 *
 * Imports the query service's internals (plan.ts, sql.ts) on purpose: the
 * point is to time exactly the SQL the endpoints run.
 */
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { planSegments, type Segment } from "../services/query/src/plan.js";
import { type AggregateSpec, bucketDim, buildAggregateQuery, column, ERRORS, REQUESTS, sumOf } from "../services/query/src/sql.js";
import { benchArgs, numberOption } from "./lib/args.js";
import { benchDataDir, countRows, openBenchStore, removeDataDir } from "./lib/chdb.js";
import { type Figure, writeResult } from "./lib/results.js";
import { distribution, round } from "./lib/stats.js";
import { formatTable } from "./lib/table.js";

const args = benchArgs();
const events = numberOption(args, "events", 10_000_000, 500_000);
const runs = numberOption(args, "runs", 20, 5);
const DAY = 86_400_000;
const HOUR = 3_600_000;
// Like a dashboard request: end = now snapped to the minute, so the edges are partial hours read from raw.
const END = Math.floor(Date.now() / 60_000) * 60_000;
const START = END - 90 * DAY;

interface Case {
  name: string;
  spec: (segments: Segment[]) => AggregateSpec;
  from: number;
  boundaries: number[];
  user: boolean;
}

const sums = ["input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens", "cost_usd"].map(sumOf);
const days = (from: number) => Array.from({ length: Math.ceil((END - from) / DAY) }, (_, i) => Math.floor(from / DAY) * DAY + i * DAY);
const CASES: Case[] = [
  {
    name: "usage 90d by day",
    from: START,
    boundaries: days(START),
    user: false,
    spec: (segments) => ({
      org_id: "acme",
      segments,
      dims: [bucketDim("day")],
      measures: [REQUESTS, ERRORS, ...sums],
      filters: {},
      params: { tz: "UTC" },
    }),
  },
  {
    name: "usage 7d by hour",
    from: END - 7 * DAY,
    boundaries: Array.from({ length: 7 * 24 }, (_, i) => Math.floor((END - 7 * DAY) / HOUR) * HOUR + i * HOUR),
    user: false,
    spec: (segments) => ({
      org_id: "acme",
      segments,
      dims: [bucketDim("hour")],
      measures: [REQUESTS, ERRORS, ...sums],
      filters: {},
      params: { tz: "UTC" },
    }),
  },
  {
    name: "models 30d",
    from: END - 30 * DAY,
    boundaries: [],
    user: false,
    spec: (segments) => ({
      org_id: "acme",
      segments,
      dims: [column("provider"), column("model")],
      measures: [REQUESTS, sumOf("input_tokens"), sumOf("output_tokens"), sumOf("cost_usd")],
      filters: {},
      orderBy: "cost_usd DESC, requests DESC, provider, model",
    }),
  },
  {
    name: "top users 30d",
    from: END - 30 * DAY,
    boundaries: days(END - 30 * DAY),
    user: true,
    spec: (segments) => ({
      org_id: "acme",
      segments,
      dims: [column("user_id")],
      measures: [REQUESTS, sumOf("cost_usd")],
      filters: {},
      where: "user_id != ''",
      orderBy: "cost_usd DESC, user_id",
      limit: 10,
    }),
  },
];

const dataDir = benchDataDir("rollup");
const store = await openBenchStore(dataDir, "bench_rollup");
try {
  // 1. Data: demo-like cardinalities (3 orgs, 80/40/12 users, 10 models), generated in the engine.
  const t0 = performance.now();
  for (let off = 0; off < events; off += 1_000_000) await store.command(insertSql(off, Math.min(1_000_000, events - off)));
  const sizes = await tableSizes(store);
  process.stderr.write(`[rollup-vs-raw] built ${JSON.stringify(sizes)} in ${Math.round((performance.now() - t0) / 1000)} s\n`);
  const rows: (string | number)[][] = [];
  const figures: Figure[] = [];
  const detail: Record<string, unknown> = { events, runs, sizes_as_inserted: sizes, cases: {} };

  // 2. Twice: as inserted (each insert block left its own rollup rows, merges
  //    pending) and after OPTIMIZE ... FINAL (the steady state background merges reach).
  for (const state of ["as inserted", "merged"] as const) {
    if (state === "merged") {
      for (const t of ["llm_usage", "llm_usage_hourly", "llm_usage_daily"]) {
        await store.command(`OPTIMIZE TABLE ${t} FINAL`, {}, { timeoutMs: 900_000 });
      }
      detail.sizes_merged = await tableSizes(store);
      process.stderr.write(`[rollup-vs-raw] merged ${JSON.stringify(detail.sizes_merged)}\n`);
    }
    await runCases(state, rows, figures, detail.cases as Record<string, unknown>);
  }
  const headers = ["query (org acme, store only)", "state", "rollup p50", "rollup p99", "raw p50", "raw p99", "speedup", "same"];
  process.stdout.write(`\n${formatTable(headers, rows)}\n`);
  writeResult({ scenario: "rollup-vs-raw", quick: args.quick, figures, detail });
} finally {
  await store.close();
  removeDataDir(dataDir);
}
process.exit(0);

async function tableSizes(s: ChdbStore) {
  return { raw: await countRows(s), hourly: await countRows(s, "llm_usage_hourly"), daily: await countRows(s, "llm_usage_daily") };
}

/** Each case: planned (rollups) vs raw only; the same answer, then timings. */
async function runCases(state: string, rows: (string | number)[][], figures: Figure[], cases: Record<string, unknown>) {
  for (const c of CASES) {
    const planned = buildAggregateQuery(c.spec(planSegments(c.from, END, c.boundaries, { user: c.user })));
    const raw = buildAggregateQuery(c.spec([{ source: "raw", from: c.from, to: END }]));
    const same = sameRows(await store.query(planned.sql, planned.params), await store.query(raw.sql, raw.params));
    const tp = await timeQuery(store, planned.sql, planned.params);
    const tr = await timeQuery(store, raw.sql, raw.params);
    const speedup = round(tr.p50 / tp.p50, 1);
    rows.push([c.name, state, tp.p50, tp.p99, tr.p50, tr.p99, speedup, same ? "yes" : "NO"]);
    cases[`${c.name} (${state})`] = { rollup: tp, raw: tr, speedup, same_answer: same, planned_sql: planned.sql };
    figures.push({
      scenario: "3 queries",
      metric: `rollup vs raw p50 speedup: ${c.name}, ${state}${same ? "" : " (ANSWERS DIFFER)"}`,
      value: speedup,
      unit: "x",
    });
  }
}

async function timeQuery(s: ChdbStore, sql: string, params: Record<string, unknown>) {
  await s.query(sql, params);
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await s.query(sql, params);
    ms.push(performance.now() - t);
  }
  return distribution(ms);
}

/** Same rows in the same order; floats equal to 1e-9 relative (sum order differs between plans). */
function sameRows(a: Record<string, unknown>[], b: Record<string, unknown>[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((ra, i) => {
    const rb = b[i]!;
    return Object.entries(ra).every(([k, v]) => {
      const w = rb[k];
      if (typeof v === "number" && typeof w === "number") return Math.abs(v - w) <= 1e-9 * Math.max(1, Math.abs(v), Math.abs(w));
      return v === w;
    });
  });
}

function insertSql(offset: number, count: number): string {
  const h = (seed: number) => `cityHash64(number, ${seed})`;
  const org = `multiIf(${h(2)} % 10 < 6, 'acme', ${h(2)} % 10 < 9, 'globex', 'initech')`;
  const users = `multiIf(${h(2)} % 10 < 6, 80, ${h(2)} % 10 < 9, 40, 12)`;
  const agents = `multiIf(${h(2)} % 10 < 6, 12, ${h(2)} % 10 < 9, 7, 3)`;
  const models = `['gpt-4o-mini','gpt-4o-mini','gpt-4o','gpt-4o','claude-sonnet-4-20250514','claude-haiku-4-5-20251001','gemini-2.0-flash','text-embedding-3-small','o3-mini','ft:acme-support-v2']`;
  const providers = `['openai','openai','openai','openai','anthropic','anthropic','gemini','openai','openai','openai']`;
  const m = `(${h(4)} % 10 + 1)`;
  // As in the demo generator: few agents carry most calls, and an agent belongs to one project.
  const agent = `toUInt64(pow((${h(6)} % 1000) / 1000, 1.7) * ${agents})`;
  const failed = `(${h(14)} % 1000 < 12)`;
  return `INSERT INTO llm_usage (event_id, event_time, org_id, project_id, user_id, agent_id, provider, model, operation,
    input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_usd, cost_source, duration_ms, ttfb_ms,
    proxy_overhead_ms, status_code, error_code, streaming, source)
  SELECT generateUUIDv4(number),
    fromUnixTimestamp64Milli(toInt64(${START} + ${h(1)} % ${90 * DAY}), 'UTC'),
    ${org},
    concat('project-', toString(${agent} % 3)),
    concat('user-', toString(toUInt64(pow((${h(3)} % 1000) / 1000, 2) * ${users}))),
    concat('agent-', toString(${agent})),
    ${providers}[${m}], ${models}[${m}], if(${m} = 8, 'embedding', 'chat'),
    ${h(7)} % 4000, ${h(8)} % 800, ${h(9)} % 500, ${h(10)} % 100,
    (${h(11)} % 100000) / 1e7, if(${m} = 10, 'unpriced', 'computed'),
    toUInt32(200 + ${h(12)} % 5000), toUInt32(50 + ${h(12)} % 800), toUInt32(${h(13)} % 20),
    if(${failed}, [429, 502, 504, 400][${h(15)} % 4 + 1], 200),
    if(${failed}, ['rate_limited', 'upstream_error', 'timeout', 'content_filter'][${h(15)} % 4 + 1], ''),
    ${h(16)} % 10 < 7, 'bench'
  FROM numbers(${offset}, ${count})`;
}
