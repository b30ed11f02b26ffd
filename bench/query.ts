/**
 * Scenario 3: query latency. Builds a store of ≥ 10 M events over 90 days
 * (INSERT … SELECT FROM numbers() with generator expressions, so the engine
 * writes rows and fills both rollups through the MVs without JS objects),
 * then measures every endpoint through app.request(): uncached (a cache that
 * never holds anything, so each request runs its store queries) and cached
 * (memory LRU, primed), p50/p99 each. Prints a table, writes
 * bench/results/query.json. Not a test: nothing asserts on time.
 *
 *   tsx bench/query.ts [--quick] [--events=10000000] [--runs=30] [--cached-runs=300]
 */
import { issueToken } from "@tokenmeter/http";
import { createQueryApp, MemoryResultCache, type ResultCache } from "@tokenmeter/query";
import { pino } from "pino";
import { Registry } from "prom-client";
import { benchArgs, numberOption } from "./lib/args.js";
import { benchDataDir, countRows, openBenchStore, removeDataDir } from "./lib/chdb.js";
import { activeParts, FOUR_ORGS, insertSql, NO_CACHE, waitForMerges } from "./lib/generate.js";
import { type Figure, writeResult } from "./lib/results.js";
import { distribution } from "./lib/stats.js";
import { formatTable } from "./lib/table.js";

const args = benchArgs();
const events = numberOption(args, "events", 10_000_000, 1_000_000);
const runs = numberOption(args, "runs", 30, 8);
const cachedRuns = numberOption(args, "cached-runs", 300, 100);
const DAYS = 90;
const DAY_MS = 86_400_000;
const SECRET = "bench-secret-bench-secret-bench-secret-0123";
// A fixed "now" a few seconds past a minute, like a dashboard request: the default end snaps to the minute.
const NOW = Math.floor(Date.now() / 60_000) * 60_000 - 60_000 + 17_250;
const START = NOW - DAYS * DAY_MS;

/** What a dashboard asks for; `acme` holds 60 % of the events. */
const QUERIES: [string, string][] = [
  ["usage 7d day (dashboard default)", "/v1/analytics/usage"],
  ["usage 30d day", `/v1/analytics/usage?start=${iso(NOW - 30 * DAY_MS)}`],
  ["usage 90d day", `/v1/analytics/usage?start=${iso(START + 60_000)}`],
  ["usage 90d week", `/v1/analytics/usage?start=${iso(START + 60_000)}&granularity=week`],
  ["usage 24h hour", `/v1/analytics/usage?start=${iso(NOW - DAY_MS)}&granularity=hour`],
  ["usage 30d day group_by model", `/v1/analytics/usage?start=${iso(NOW - 30 * DAY_MS)}&group_by=model`],
  ["usage 30d day America/New_York", `/v1/analytics/usage?start=${iso(NOW - 30 * DAY_MS)}&tz=America/New_York`],
  ["usage 7d day Asia/Kolkata (raw)", "/v1/analytics/usage?tz=Asia/Kolkata"],
  ["usage 30d day user_id filter", `/v1/analytics/usage?start=${iso(NOW - 30 * DAY_MS)}&user_id=u42`],
  ["latency 7d hour", "/v1/analytics/latency?granularity=hour"],
  ["latency 30d day", `/v1/analytics/latency?start=${iso(NOW - 30 * DAY_MS)}`],
  ["models 30d", `/v1/analytics/models?start=${iso(NOW - 30 * DAY_MS)}`],
  ["errors 30d day", `/v1/analytics/errors?start=${iso(NOW - 30 * DAY_MS)}`],
  ["agents 30d", `/v1/analytics/agents?start=${iso(NOW - 30 * DAY_MS)}`],
  ["users 30d", `/v1/analytics/users?start=${iso(NOW - 30 * DAY_MS)}`],
  ["summary 7d (+ previous 7d)", "/v1/analytics/summary"],
  ["summary 30d (+ previous 30d)", `/v1/analytics/summary?start=${iso(NOW - 30 * DAY_MS)}`],
];

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

const dataDir = benchDataDir("query");
const store = await openBenchStore(dataDir, "bench_query");
try {
  // 1. Build the store in 1 M-row INSERTs (bounded memory; each fills the rollups through the MVs).
  const t0 = performance.now();
  for (let off = 0; off < events; off += 1_000_000) {
    await store.command(insertSql(off, Math.min(1_000_000, events - off), { end: NOW, days: DAYS, orgs: FOUR_ORGS }));
    process.stderr.write(`[query] inserted ${Math.min(off + 1_000_000, events).toLocaleString("en-US")} events\n`);
  }
  const buildMs = performance.now() - t0;
  // A store holding 90 days is not in the middle of merging all of them: let the merges the
  // build started finish (the engine's own background merges, bounded; no OPTIMIZE), so the
  // figures are of a settled store, not of one competing with its own bulk load.
  const settleMs = await waitForMerges(store, 180_000);
  const sizes = {
    raw: await countRows(store, "llm_usage"),
    hourly: await countRows(store, "llm_usage_hourly"),
    daily: await countRows(store, "llm_usage_daily"),
  };
  process.stderr.write(
    `[query] built in ${Math.round(buildMs / 1000)} s, merges settled after ${Math.round(settleMs / 1000)} s more: ${JSON.stringify(sizes)}\n`,
  );

  // 2. Two apps on the same store: one never caching, one with the memory LRU.
  const logger = pino({ level: "warn" });
  const make = (cache: ResultCache) =>
    createQueryApp({ store, cache, auth: { jwtSecret: SECRET }, logger, registry: new Registry(), now: () => NOW });
  const uncached = make(NO_CACHE);
  const cached = make(new MemoryResultCache());
  const headers = { authorization: `Bearer ${await issueToken(SECRET, "acme")}` };
  const time = async (app: ReturnType<typeof make>, path: string) => {
    const s = performance.now();
    const res = await app.request(path, { headers });
    await res.text();
    if (res.status !== 200) throw new Error(`${path} → ${res.status}`);
    return { ms: performance.now() - s, cache: res.headers.get("x-cache") };
  };

  // 3. Per query: warm once, then `runs` misses and `cachedRuns` hits.
  const rows: (string | number)[][] = [];
  const figures: Figure[] = [];
  const detail: Record<string, unknown> = {
    events,
    days: DAYS,
    build_ms: Math.round(buildMs),
    merges_settled_ms: Math.round(settleMs),
    active_parts: await activeParts(store),
    sizes,
    runs,
    cached_runs: cachedRuns,
    queries: {},
  };
  for (const [name, path] of QUERIES) {
    await time(uncached, path);
    const miss: number[] = [];
    for (let i = 0; i < runs; i++) miss.push((await time(uncached, path)).ms);
    await time(cached, path);
    const hit: number[] = [];
    for (let i = 0; i < cachedRuns; i++) {
      const r = await time(cached, path);
      if (r.cache !== "HIT") throw new Error(`${path} was not a cache hit`);
      hit.push(r.ms);
    }
    const m = distribution(miss);
    const h = distribution(hit);
    rows.push([name, m.p50, m.p99, h.p50, h.p99]);
    (detail.queries as Record<string, unknown>)[name] = { path, uncached: m, cached: h };
    figures.push(
      { scenario: "3 queries", metric: `${name} uncached p50`, value: m.p50, unit: "ms" },
      { scenario: "3 queries", metric: `${name} uncached p99`, value: m.p99, unit: "ms" },
      { scenario: "3 queries", metric: `${name} cached p50`, value: h.p50, unit: "ms" },
      { scenario: "3 queries", metric: `${name} cached p99`, value: h.p99, unit: "ms" },
    );
  }
  process.stdout.write(
    `\n${formatTable(["query (org acme)", "uncached p50 ms", "uncached p99 ms", "cached p50 ms", "cached p99 ms"], rows)}\n`,
  );
  const path = writeResult({ scenario: "query", quick: args.quick, figures, detail });
  process.stderr.write(`[query] wrote ${path}\n`);
} finally {
  await store.close();
  removeDataDir(dataDir);
}
