/**
 * Scenario 6: where the ingest hot paths spend their CPU. Each target runs in
 * its own process under `node --cpu-prof`, is stopped cleanly so V8 writes
 * the profile, and is summarized by self time per area and per function:
 *   http  — the all-in-one while 16 clients POST 1,000-event requests;
 *   kafka — with --brokers: the ingest consumer draining a topic of
 *           realistic events into chDB (events produced before it starts).
 * chDB's INSERT runs on native threads outside the JS profile, so the
 * process's total CPU time (/proc, all threads) per 100k events is reported
 * next to the main thread's busy share. Last, the per-event JS stages are
 * timed in isolation.
 *
 *   tsx bench/profile.ts [--quick] [--duration-ms=30000] [--brokers=H:P --events=1000000] [--target=http|kafka]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AppHandle, spawnApp } from "./lib/app.js";
import { benchArgs, numberOption } from "./lib/args.js";
import { type CpuProfile, type ProfileSummary, summarizeProfile } from "./lib/cpuprofile.js";
import { templates } from "./lib/events.js";
import { produceEventSet } from "./lib/kafka.js";
import { BodyFactory, closedLoop } from "./lib/load.js";
import { type Figure, writeResult } from "./lib/results.js";
import { processCpuMs } from "./lib/rss.js";
import { stageCosts } from "./lib/stages.js";
import { rate } from "./lib/stats.js";
import { formatTable } from "./lib/table.js";

const args = benchArgs();
const durationMs = numberOption(args, "duration-ms", 30_000, 8_000);
const kafkaEvents = numberOption(args, "events", 1_000_000, 100_000);
const brokers = args.options.brokers;
const targets = args.options.target ? [args.options.target] : brokers ? ["http", "kafka"] : ["http"];

interface Profiled {
  events: number;
  ms: number;
  cpuMs: number;
  summary: ProfileSummary;
}

const figures: Figure[] = [];
const detail: Record<string, unknown> = {};
for (const target of targets) {
  const p = target === "kafka" ? await profileKafka() : await profileHttp();
  const eps = rate(p.events, p.ms);
  const cpuPer100k = Math.round((p.cpuMs / Math.max(1, p.events)) * 100_000);
  const busyPct = Math.round((p.summary.busy_ms / Math.max(1, p.summary.total_ms - p.summary.startup_ms)) * 100);
  print(target, eps, cpuPer100k, p.summary);
  const s = `6 profile (${target})`;
  figures.push(
    { scenario: s, metric: "events/s under --cpu-prof", value: eps, unit: "events/s" },
    { scenario: s, metric: "process CPU per 100k events (all threads)", value: cpuPer100k, unit: "ms" },
    { scenario: s, metric: "JS main thread busy", value: busyPct, unit: "%" },
    ...p.summary.top_functions
      .slice(0, 4)
      .map((c) => ({ scenario: s, metric: `top self time: ${c.name}`, value: c.self_pct, unit: "% of busy" })),
  );
  detail[target] = { events: p.events, ms: Math.round(p.ms), process_cpu_ms: p.cpuMs, ...p.summary };
}

// The per-event JS stages in isolation, in this (unprofiled) process.
const stages = stageCosts(args.quick ? 20_000 : 50_000);
process.stderr.write(
  `${formatTable(
    ["stage (isolated)", "µs/event"],
    stages.map((s) => [s.stage, s.us_per_event]),
  )}\n`,
);
const jsPerEvent = Math.round(stages.reduce((s, x) => s + x.us_per_event, 0) * 100) / 100;
figures.push({
  scenario: "6 profile",
  metric: "JS stages per event, isolated (decode+validate+row+encode)",
  value: jsPerEvent,
  unit: "µs",
});
writeResult({ scenario: "profile", quick: args.quick, figures, detail: { ...detail, stages } });
process.exit(0);

async function profileHttp(): Promise<Profiled> {
  const profDir = mkdtempSync(join(tmpdir(), "tokenmeter-bench-prof-"));
  const app = await spawnApp({ scenario: "profile", orgs: ["acme"], nodeFlags: ["--cpu-prof", `--cpu-prof-dir=${profDir}`] });
  const bodies = new BodyFactory(templates(20_000));
  const cpuBefore = processCpuMs(app.pid);
  const load = await closedLoop({
    url: app.url,
    token: app.tokens.acme!,
    bodies,
    clients: 16,
    eventsPerRequest: 1_000,
    durationMs,
    maxRequests: 50_000,
  });
  const cpuMs = processCpuMs(app.pid) - cpuBefore;
  await app.stop();
  return { events: load.accepted, ms: load.elapsed_ms, cpuMs, summary: readProfile(profDir) };
}

/** Produces the event set first, then times the consumer from joined to every row visible. */
async function profileKafka(): Promise<Profiled> {
  if (!brokers) throw new Error("--brokers is required for the kafka target");
  const topic = `bench.profile.${Date.now()}`;
  await produceEventSet(brokers, topic, 8, { events: kafkaEvents, end: Date.now(), days: 2, seed: 3 });
  const profDir = mkdtempSync(join(tmpdir(), "tokenmeter-bench-prof-"));
  const orgs = ["acme", "globex", "initech"];
  const app = await spawnApp({
    scenario: "profile-kafka",
    process: "kafka",
    orgs,
    nodeFlags: ["--cpu-prof", `--cpu-prof-dir=${profDir}`],
    extraArgs: [`--brokers=${brokers}`, `--topic=${topic}`, "--partitions=8"],
  });
  const t0 = performance.now();
  const cpuBefore = processCpuMs(app.pid);
  let rows = 0;
  while (rows < kafkaEvents && performance.now() - t0 < 600_000) {
    await new Promise((r) => setTimeout(r, 250));
    rows = await visibleRows(app, orgs);
  }
  const ms = performance.now() - t0;
  const cpuMs = processCpuMs(app.pid) - cpuBefore;
  await app.stop();
  return { events: rows, ms, cpuMs, summary: readProfile(profDir) };
}

/** Requests counted by the usage endpoint over the event set's days, summed over orgs (cache-busting `end`). */
async function visibleRows(app: AppHandle, orgs: string[]): Promise<number> {
  const start = new Date(Date.now() - 4 * 86_400_000).toISOString();
  let total = 0;
  for (const org of orgs) {
    const end = new Date(Date.now() + 3_600_000).toISOString();
    const res = await fetch(`${app.url}/v1/analytics/usage?start=${start}&end=${end}`, {
      headers: { authorization: `Bearer ${app.tokens[org]}` },
    });
    if (res.ok) total += ((await res.json()) as { totals: { requests: number } }).totals.requests;
  }
  return total;
}

function readProfile(profDir: string): ProfileSummary {
  const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile in ${profDir}`);
  const summary = summarizeProfile(JSON.parse(readFileSync(join(profDir, file), "utf8")) as CpuProfile, 25);
  rmSync(profDir, { recursive: true, force: true });
  return summary;
}

function print(target: string, eps: number, cpuPer100k: number, s: ProfileSummary) {
  process.stderr.write(
    `[profile ${target}] ${eps} events/s; process CPU ${cpuPer100k} ms per 100k events; JS main thread busy ${s.busy_ms} of ${s.total_ms} ms\n`,
  );
  process.stderr.write(
    `${formatTable(
      ["area", "self ms", "%"],
      s.by_area.map((c) => [c.name, c.self_ms, c.self_pct]),
    )}\n\n`,
  );
  process.stderr.write(
    `${formatTable(
      ["function", "self ms", "%"],
      s.top_functions.slice(0, 15).map((c) => [c.name, c.self_ms, c.self_pct]),
    )}\n\n`,
  );
}
