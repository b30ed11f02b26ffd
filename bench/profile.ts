/**
 * Scenario 6: where the ingest hot path spends its CPU. Runs the all-in-one
 * under `node --cpu-prof` while 16 clients POST 1,000-event requests, stops it
 * cleanly so V8 writes the profile, and names the top self-time functions and
 * areas. chDB's insert runs on native threads outside the JS profile, so the
 * process's total CPU time (/proc) is reported next to the main thread's.
 *
 *   tsx bench/profile.ts [--quick] [--duration-ms=30000]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnApp } from "./lib/app.js";
import { benchArgs, numberOption } from "./lib/args.js";
import { type CpuProfile, summarizeProfile } from "./lib/cpuprofile.js";
import { templates } from "./lib/events.js";
import { BodyFactory, closedLoop } from "./lib/load.js";
import { writeResult } from "./lib/results.js";
import { stageCosts } from "./lib/stages.js";
import { rate } from "./lib/stats.js";
import { formatTable } from "./lib/table.js";

const args = benchArgs();
const durationMs = numberOption(args, "duration-ms", 30_000, 10_000);
const profDir = mkdtempSync(join(tmpdir(), "tokenmeter-bench-prof-"));

// 1. Profiled server, realistic load.
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

// 2. Summarize the profile V8 wrote on exit.
const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
if (!file) throw new Error(`no .cpuprofile in ${profDir}`);
const summary = summarizeProfile(JSON.parse(readFileSync(join(profDir, file), "utf8")) as CpuProfile, 25);
rmSync(profDir, { recursive: true, force: true });
// 3. The per-event JS stages in isolation, in this (unprofiled) process.
const stages = stageCosts(args.quick ? 20_000 : 50_000);
const jsPerEvent = stages.reduce((s, x) => s + x.us_per_event, 0);
const eps = rate(load.accepted, load.elapsed_ms);
const cpuPer100k = Math.round((cpuMs / Math.max(1, load.accepted)) * 100_000);
process.stderr.write(
  `[profile] ${eps} events/s; process CPU ${cpuPer100k} ms per 100k events; JS main thread busy ${summary.busy_ms} of ${summary.total_ms} ms\n`,
);
process.stderr.write(
  `${formatTable(
    ["area", "self ms", "%"],
    summary.by_area.map((c) => [c.name, c.self_ms, c.self_pct]),
  )}\n\n`,
);
process.stderr.write(
  `${formatTable(
    ["function", "self ms", "%"],
    summary.top_functions.slice(0, 15).map((c) => [c.name, c.self_ms, c.self_pct]),
  )}\n`,
);
writeResult({
  scenario: "profile",
  quick: args.quick,
  figures: [
    { scenario: "6 profile", metric: "events/s under --cpu-prof (HTTP, 16 x 1,000)", value: eps, unit: "events/s" },
    { scenario: "6 profile", metric: "process CPU per 100k events (all threads)", value: cpuPer100k, unit: "ms" },
    {
      scenario: "6 profile",
      metric: "JS main thread busy",
      value: Math.round((summary.busy_ms / Math.max(1, summary.total_ms)) * 100),
      unit: "%",
    },
    ...summary.by_area
      .slice(0, 3)
      .map((c) => ({ scenario: "6 profile", metric: `top area: ${c.name}`, value: c.self_pct, unit: "% of busy" })),
  ],
  detail: {
    duration_ms: Math.round(load.elapsed_ms),
    accepted: load.accepted,
    errors: load.errors,
    process_cpu_ms: cpuMs,
    stages,
    ...summary,
  },
});
process.exit(0);

/** utime + stime of a process in ms (all its threads, chDB's included). */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100;
}
