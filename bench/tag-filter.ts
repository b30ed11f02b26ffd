/**
 * Tag-filtered queries over 90 days (issue 16): N events of one org are
 * generated in the engine (INSERT … SELECT, every rollup view fed), with a
 * common tag (team: 5 values on 80 % of calls), a medium one (feature: 12
 * values on half) and a time-clustered rare one (job: one value per hour of
 * traffic, like a batch run or an incident). For each filter it reports the
 * granules the raw read touches (EXPLAIN indexes = 1: the tag bloom filters of
 * 0006) and the wall time of the usage query (p50 / p99 over R runs, no cache).
 *
 *   node --import tsx bench/tag-filter.ts --events=1000000 --runs=30
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbStore, migrate, syncTagRollupKeys } from "@tokenmeter/clickhouse";
import { parseQuery } from "../services/query/src/params.js";
import { getUsage } from "../services/query/src/routes/usage.js";
import { benchArgs } from "./lib/args.js";
import { percentile } from "./lib/stats.js";

const args = benchArgs();
const n = Number(args.options.events ?? 1_000_000);
const runs = Number(args.options.runs ?? 30);
const dataDir = mkdtempSync(join(tmpdir(), "tokenmeter-tag-bench-"));
const END = Date.parse("2026-03-16T00:00:00Z");
const DAYS = 90;

const store = await ChdbStore.open({ dataDir, database: "bench" });
try {
  await migrate(store);
  const t0 = performance.now();
  await store.command(
    `INSERT INTO llm_usage (event_id, event_time, org_id, project_id, agent_id, provider, model, operation, input_tokens, output_tokens,
       cost_usd, cost_source, status_code, tags)
     SELECT generateUUIDv4(number), toDateTime64({end:DateTime64(3, 'UTC')}, 3, 'UTC') - toIntervalMillisecond(intDiv(number * {span:UInt64}, {n:UInt64})),
       'acme', ['web', 'api', 'batch'][number % 3 + 1], concat('agent-', toString(number % 7)), 'openai', ['gpt-4o', 'gpt-4o-mini'][number % 2 + 1],
       'chat', number % 3000, number % 700, toDecimal128((number % 5000) / 1000000, 12), 'computed', 200,
       mapFromArrays(
         arrayConcat(if(cityHash64(number, 1) % 10 < 8, ['team'], []), if(cityHash64(number, 2) % 2 = 0, ['feature'], []), ['job']),
         arrayConcat(
           if(cityHash64(number, 1) % 10 < 8, [['growth', 'core', 'ml', 'infra', 'sales'][cityHash64(number, 3) % 5 + 1]], []),
           if(cityHash64(number, 2) % 2 = 0, [concat('f', toString(cityHash64(number, 4) % 12))], []),
           [concat('job-', toString(intDiv(number * {hours:UInt64}, {n:UInt64})))]))
     FROM numbers({n:UInt64})`,
    { end: new Date(END).toISOString().replace("T", " ").replace("Z", ""), span: DAYS * 86_400_000, n, hours: DAYS * 24 },
    { timeoutMs: 3_600_000 },
  );
  const loadMs = performance.now() - t0;
  const [parts] = await store.query<{ granules: number }>(
    "SELECT sum(marks) AS granules FROM system.parts WHERE database = 'bench' AND table = 'llm_usage' AND active",
  );

  const base = `start=${new Date(END - DAYS * 86_400_000).toISOString()}&end=${new Date(END).toISOString()}&granularity=day`;
  const cases: [string, string][] = [
    ["no filter (model rollup)", base],
    ["tag.team=growth (80 % carry team)", `${base}&tag.team=growth`],
    ["tag.feature=f3", `${base}&tag.feature=f3`],
    ["tag.job=job-1000 (one hour of traffic)", `${base}&tag.job=job-1000`],
    ["tag.team=ml & tag.job=job-1000", `${base}&tag.team=ml&tag.job=job-1000`],
  ];
  const rows: Record<string, unknown>[] = [];
  const run = async (name: string, qs: string, tagRollupKeys?: ReadonlySet<string>) => {
    const raw = Object.fromEntries([...new URLSearchParams(qs)].map(([k, v]) => [k, k.startsWith("tag.") ? [v] : v]));
    const q = parseQuery("usage", raw as Record<string, string | string[]>, END);
    const ctx = { store, org_id: "acme", q, ...(tagRollupKeys ? { tagRollupKeys } : {}) };
    const times: number[] = [];
    let requests = 0;
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      const r = await getUsage(ctx);
      times.push(performance.now() - s);
      requests = r.totals.requests;
    }
    rows.push({
      case: name,
      requests,
      p50_ms: round(percentile(sorted(times), 50)),
      p99_ms: round(percentile(sorted(times), 99)),
      granules: tagRollupKeys ? "tag rollup" : await granules(qs, q),
    });
  };
  for (const [name, qs] of cases) await run(name, qs);
  // Promoted: team and feature backfilled into the tag rollup, the same questions again.
  const p0 = performance.now();
  await syncTagRollupKeys(store, ["team", "feature"]);
  const promoteS = round((performance.now() - p0) / 1000);
  const promoted = new Set(["team", "feature"]);
  for (const [name, qs] of cases.slice(1, 3)) await run(`${name}, promoted`, qs, promoted);
  await run("group_by=tag.team, raw", `${base}&group_by=tag.team`);
  await run("group_by=tag.team, promoted", `${base}&group_by=tag.team`, promoted);
  const out = {
    events: n,
    days: DAYS,
    load_s: round(loadMs / 1000),
    promote_s: promoteS,
    raw_granules: Number(parts?.granules),
    runs,
    cases: rows,
  };
  console.log(JSON.stringify(out, null, 1));
} finally {
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
}

/** Granules of llm_usage the tag read selects after the skip indexes (the usage query's raw part). */
async function granules(qs: string, _q: unknown): Promise<string> {
  if (!qs.includes("tag.")) return "rollup";
  const tags = [...new URLSearchParams(qs)].filter(([k]) => k.startsWith("tag."));
  if (tags.length === 0) return "all (no tag filter)";
  const where = tags.map((_, i) => `tags[{k${i}:String}] = {v${i}:String}`).join(" AND ");
  const params = Object.fromEntries(
    tags.flatMap(([k, v], i) => [
      [`k${i}`, k.slice(4)],
      [`v${i}`, v],
    ]),
  );
  const plan = await store.query<{ explain: string }>(
    `EXPLAIN indexes = 1 SELECT count() FROM llm_usage WHERE org_id = 'acme' AND ${where}`,
    params,
  );
  const lines = plan.map((p) => p.explain.trim());
  const last = lines.filter((l) => /^Granules: /.test(l)).pop();
  return last?.replace("Granules: ", "") ?? "?";
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

function sorted(xs: number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}
