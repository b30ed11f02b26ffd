/**
 * `--scale` (issue 20): how the dashboard's cost grows with the data. Builds
 * one store up to 1 M, 10 M and 50 M events (90 days, 3 orgs; quick: 100 k
 * and 1 M), each size an addition to the last (INSERT … SELECT, every rollup
 * fed by its MV), lets the engine's merges settle (bounded), and at each size
 * prints, for 7, 30 and 90 days, the uncached p50/p99 of the seven calls the
 * dashboard makes on load (as it makes them by default: usage stacked by
 * provider, by day), the bytes on disk per event (compressed, raw table and
 * whole store), and the build time. The ratio of the largest size's 90-day
 * p50 to the 10 M one says whether the rollups keep answers flat.
 *
 *   tsx bench/scale.ts [--quick] [--sizes=1000000,10000000,50000000] [--runs=10]
 *   pnpm bench --scale         (this scenario alone, through the runner)
 */
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { issueToken } from "@tokenmeter/http";
import { createQueryApp } from "@tokenmeter/query";
import { pino } from "pino";
import { Registry } from "prom-client";
import { benchArgs, numberOption } from "./lib/args.js";
import { benchDataDir, countRows, openBenchStore, removeDataDir } from "./lib/chdb.js";
import { type GeneratedShape, insertSql, NO_CACHE, waitForMerges } from "./lib/generate.js";
import { type Figure, writeResult } from "./lib/results.js";
import { distribution, round } from "./lib/stats.js";
import { formatTable } from "./lib/table.js";

const args = benchArgs();
const sizes = (args.options.sizes ?? (args.quick ? "100000,1000000" : "1000000,10000000,50000000")).split(",").map(Number);
if (sizes.some((n, i) => !Number.isInteger(n) || n <= 0 || (i > 0 && n <= sizes[i - 1]!))) {
  throw new RangeError(`--sizes must be increasing positive integers, got ${args.options.sizes}`);
}
const runs = numberOption(args, "runs", 10, 5);
const DAY_MS = 86_400_000;
const SECRET = "bench-scale-secret-bench-scale-secret-0123";
// A fixed "now" a few seconds past a minute, like a dashboard request.
const NOW = Math.floor(Date.now() / 60_000) * 60_000 - 60_000 + 17_250;
const SHAPE: GeneratedShape = {
  end: NOW,
  days: 90,
  orgs: [
    ["acme", 0.6],
    ["globex", 0.3],
    ["initech", 0.1],
  ],
};
const RANGES = [7, 30, 90] as const;
/** The dashboard's seven calls on load (services/query/src/dashboard/client/panels.ts SOURCES). */
const CALLS: [string, string][] = [
  ["summary", "summary?"],
  ["usage", "usage?granularity=day&group_by=provider&"],
  ["latency", "latency?granularity=day&"],
  ["errors", "errors?granularity=day&"],
  ["models", "models?"],
  ["agents", "agents?limit=10&"],
  ["users", "users?limit=10&"],
];

const log = (line: string) => process.stderr.write(`[scale] ${line}\n`);
const dataDir = benchDataDir("scale");
const store = await openBenchStore(dataDir, "bench_scale");
try {
  const app = createQueryApp({
    store,
    cache: NO_CACHE,
    auth: { jwtSecret: SECRET },
    logger: pino({ level: "warn" }),
    registry: new Registry(),
    now: () => NOW,
  });
  const headers = { authorization: `Bearer ${await issueToken(SECRET, "acme")}` };
  const time = async (path: string) => {
    const s = performance.now();
    const res = await app.request(path, { headers });
    await res.text();
    if (res.status !== 200) throw new Error(`${path} → ${res.status}`);
    return performance.now() - s;
  };

  const figures: Figure[] = [];
  const detail: Record<string, unknown>[] = [];
  const p50At = new Map<string, number>();
  let built = 0;
  for (const size of sizes) {
    // 1. Grow the store to `size` in 1 M-row INSERTs (bounded memory), then let its merges settle.
    const t0 = performance.now();
    for (let off = built; off < size; off += 1_000_000) {
      await store.command(insertSql(off, Math.min(1_000_000, size - off), SHAPE));
    }
    const buildMs = performance.now() - t0;
    built = size;
    const settleMs = await waitForMerges(store, 300_000);
    const disk = await bytesOnDisk(store);
    const raw = await countRows(store, "llm_usage");
    log(`${size.toLocaleString("en-US")} events: built +${Math.round(buildMs / 1000)} s, merges settled ${Math.round(settleMs / 1000)} s`);

    // 2. Each call over each range, uncached: warm once (plans, marks), then `runs` timed misses.
    const rows: (string | number)[][] = [];
    const calls: Record<string, unknown> = {};
    for (const days of RANGES) {
      const start = new Date(NOW - days * DAY_MS + 60_000).toISOString();
      for (const [name, query] of CALLS) {
        const path = `/v1/analytics/${query}start=${start}`;
        await time(path);
        const ms: number[] = [];
        for (let i = 0; i < runs; i++) ms.push(await time(path));
        const d = distribution(ms);
        const key = `${name} ${days}d`;
        p50At.set(`${size}:${key}`, d.p50);
        calls[key] = d;
        rows.push([key, d.p50, d.p99]);
        figures.push(
          { scenario: "scale", metric: `${label(size)} ${key} uncached p50`, value: d.p50, unit: "ms" },
          { scenario: "scale", metric: `${label(size)} ${key} uncached p99`, value: d.p99, unit: "ms" },
        );
      }
    }
    const perEvent = { raw: round(disk.raw / raw, 1), store: round(disk.total / raw, 1) };
    figures.push(
      { scenario: "scale", metric: `${label(size)} bytes on disk per event (raw table)`, value: perEvent.raw, unit: "B" },
      { scenario: "scale", metric: `${label(size)} bytes on disk per event (whole store)`, value: perEvent.store, unit: "B" },
      { scenario: "scale", metric: `${label(size)} build time (this step)`, value: round(buildMs / 1000, 1), unit: "s" },
    );
    detail.push({
      size,
      raw_rows: raw,
      build_ms: Math.round(buildMs),
      merges_settled_ms: Math.round(settleMs),
      disk,
      per_event: perEvent,
      calls,
    });
    process.stdout.write(
      `\n${label(size)} events (${perEvent.raw} B/event raw, ${perEvent.store} B/event in all, built +${round(buildMs / 1000, 1)} s)\n` +
        `${formatTable(["call (org acme, uncached)", "p50 ms", "p99 ms"], rows)}\n`,
    );
  }

  // 3. Flat or not: the largest size's 90-day p50 against the 10 M one (or the smallest, when 10 M is not built).
  const base = sizes.includes(10_000_000) && sizes.at(-1) !== 10_000_000 ? 10_000_000 : sizes[0]!;
  const top = sizes.at(-1)!;
  if (top !== base) {
    const ratios: (string | number)[][] = [];
    for (const [name] of CALLS) {
      const key = `${name} 90d`;
      const ratio = round(p50At.get(`${top}:${key}`)! / p50At.get(`${base}:${key}`)!, 2);
      ratios.push([key, ratio]);
      figures.push({ scenario: "scale", metric: `${key} uncached p50, ${label(top)} / ${label(base)}`, value: ratio, unit: "x" });
    }
    process.stdout.write(`\n${formatTable([`90-day call`, `p50 ${label(top)} / ${label(base)}`], ratios)}\n`);
  }
  const path = writeResult({ scenario: "scale", quick: args.quick, figures, detail: { sizes, runs, days: SHAPE.days, steps: detail } });
  log(`wrote ${path}`);
} finally {
  await store.close();
  removeDataDir(dataDir);
}

function label(n: number): string {
  return n >= 1_000_000 ? `${n / 1_000_000} M` : `${n / 1_000} k`;
}

/** Compressed bytes of the active parts: the raw table's and the whole database's. */
async function bytesOnDisk(s: ChdbStore): Promise<{ raw: number; total: number }> {
  const rows = await s.query<{ table: string; bytes: string }>(
    "SELECT table, sum(bytes_on_disk) AS bytes FROM system.parts WHERE database = currentDatabase() AND active GROUP BY table",
  );
  const total = rows.reduce((t, r) => t + Number(r.bytes), 0);
  return { raw: Number(rows.find((r) => r.table === "llm_usage")?.bytes ?? 0), total };
}
