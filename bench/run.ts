/**
 * `pnpm bench [--quick] [--only=a,b] [--report]`: runs every scenario as its own child
 * process (one chDB data dir each), collects bench/results/<scenario>.json,
 * prints one table and writes bench/results/summary.json.
 *
 * Scenario 1 shares one broker and one topic (8 partitions, the same event
 * set) between the end-to-end run and its ceilings, so the ratios are taken
 * from one run on one machine state.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchArgs, numberOption } from "./lib/args.js";
import { produceEventSet, startBroker, stopBroker } from "./lib/kafka.js";
import { type BenchResult, type Figure, REPO_DIR, RESULTS_DIR, runMeta } from "./lib/results.js";
import { plan, type Step, scaleStep, scriptExists, type TopicArgs } from "./lib/scenarios.js";
import { rate, round } from "./lib/stats.js";
import { formatTable } from "./lib/table.js";

const args = benchArgs();
const only = args.options.only?.split(",");
/** `--scale`: the data-growth scenario alone (stores of 1 M, 10 M, 50 M events; it takes its own time). */
const scale = process.argv.includes("--scale");
const selected = (topic: TopicArgs): Step[] =>
  scale ? [scaleStep(args.quick)] : plan(args.quick, topic).filter((s) => !only || only.includes(s.result));
const started = Date.now();
const outcomes: { step: string; status: string; ms: number }[] = [];

/** `--report`: run nothing, tabulate the result files already in bench/results/ (e.g. of runs done in parts). */
function reportExisting() {
  for (const step of [...plan(args.quick, placeholderTopic()), scaleStep(args.quick)]) {
    if (existsSync(resultPath(step.result))) outcomes.push({ step: step.result, status: "ok", ms: 0 });
  }
  report({});
}

async function main() {
  // 1. Broker and the shared topic for scenario 1.
  const brokerDir = mkdtempSync(join(tmpdir(), "tokenmeter-bench-broker-"));
  const steps = selected(placeholderTopic());
  const needsTopic = steps.some((s) => ["ingest-kafka", "ceilings", "ingest-pod"].includes(s.result));
  const needsBroker = needsTopic || steps.some((s) => s.result === "freshness" || s.result === "profile");
  let produced: Record<string, number> = {};
  let topic = placeholderTopic();
  try {
    if (needsBroker) topic = { ...topic, brokers: await startBroker(brokerDir) };
    if (needsTopic) {
      const brokers = topic.brokers;
      topic = { ...topic, topic: `bench.ingest.${Date.now()}` };
      log(
        `broker ${brokers}; producing ${topic.events.toLocaleString("en-US")} events into ${topic.topic} (${topic.partitions} partitions)`,
      );
      const p = await produceEventSet(brokers, topic.topic, topic.partitions, topic);
      produced = { events: topic.events, bytes: p.bytes, produce_ms: p.produce_ms, produce_rate: rate(topic.events, p.produce_ms) };
      log(`produced in ${p.produce_ms} ms (${produced.produce_rate} events/s)`);
    }
    // 2. Every scenario, one child process each, in order.
    for (const step of selected(topic)) {
      if (!scriptExists(step)) {
        outcomes.push({ step: step.result, status: step.optional ? "not landed yet" : "missing", ms: 0 });
        continue;
      }
      outcomes.push(await runStep(step));
    }
  } finally {
    if (needsBroker) await stopBroker(brokerDir).catch(() => undefined);
    rmSync(brokerDir, { recursive: true, force: true });
  }
  // 3. One table from what this run wrote.
  report(produced);
}

function placeholderTopic(): TopicArgs {
  return {
    brokers: "",
    topic: "",
    events: numberOption(args, "events", 2_000_000, 200_000),
    end: Date.now(),
    days: 2,
    seed: 1,
    partitions: 8,
  };
}

function runStep(step: Step): Promise<{ step: string; status: string; ms: number }> {
  const t0 = Date.now();
  log(`--- ${step.result}: tsx bench/${step.script} ${step.args.join(" ")}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join("bench", step.script), ...step.args], {
      cwd: REPO_DIR,
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: "1" },
    });
    const timer = setTimeout(() => {
      log(`${step.result} exceeded ${step.timeoutMs} ms, killing it`);
      child.kill("SIGKILL");
    }, step.timeoutMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - t0;
      const fresh = existsSync(resultPath(step.result)) && readResult(step.result).meta.date >= new Date(t0).toISOString();
      resolve({ step: step.result, status: code === 0 && fresh ? "ok" : `failed (${signal ?? `exit ${code}`})`, ms });
    });
  });
}

function report(produced: Record<string, number>) {
  const figures: Figure[] = [];
  const results: Record<string, BenchResult> = {};
  for (const o of outcomes) {
    if (o.status !== "ok") continue;
    const r = readResult(o.step);
    results[o.step] = r;
    figures.push(...r.figures);
  }
  figures.push(...ratios(results));
  queryTargets(figures);
  const rows = figures.map((f) => [f.scenario, f.metric, f.value, f.unit, f.target ?? "", verdict(f)]);
  const meta = runMeta();
  console.log(
    `\nTokenmeter benchmarks${args.quick ? " (--quick, reduced scale)" : ""} — ${meta.date}, ${meta.commit}${meta.dirty ? "+dirty" : ""}, ${meta.machine}, ${meta.cores} cores, load ${meta.load_avg_1m}\n`,
  );
  console.log(formatTable(["scenario", "figure", "value", "unit", "target", ""], rows));
  // When each figure was taken: results of runs done in parts (--report) differ in date, scale and load.
  const taken = (step: string) => {
    const m = results[step]?.meta;
    return m ? [`${m.date.slice(0, 16)}Z`, results[step]!.quick ? "quick" : "full", m.load_avg_1m, m.commit] : ["", "", "", ""];
  };
  const steps = outcomes.map((o) => [o.step, o.status, round(o.ms / 1000, 1), ...taken(o.step)]);
  const stepHeaders = ["step", "status", "seconds", "taken", "scale", "load", "commit"];
  console.log(`\n${formatTable(stepHeaders, steps)}`);
  console.log(`\ntotal ${round((Date.now() - started) / 1000, 1)} s; results in bench/results/*.json`);
  writeFileSync(join(RESULTS_DIR, "summary.md"), `${markdown(meta, rows)}\n${markdownTable(stepHeaders, steps)}`);
  writeFileSync(
    join(RESULTS_DIR, "summary.json"),
    `${JSON.stringify({ quick: args.quick, meta, produced, outcomes, figures }, null, 2)}\n`,
  );
}

/** The same table as markdown, for docs/benchmarks.md. */
function markdown(meta: ReturnType<typeof runMeta>, rows: (string | number)[][]): string {
  const head = `Tabulated ${meta.date}, commit ${meta.commit}${meta.dirty ? " (+ uncommitted changes)" : ""}, ${meta.machine}, ${meta.cores} cores, ${meta.mem_gb} GB, Node ${meta.node}.`;
  return `${head}\n\n${markdownTable(["scenario", "figure", "value", "unit", "target", ""], rows)}`;
}

function markdownTable(headers: string[], rows: (string | number)[][]): string {
  const cell = (c: string | number) => (typeof c === "number" ? c.toLocaleString("en-US", { maximumFractionDigits: 2 }) : c);
  const lines = [`| ${headers.join(" | ")} |`, `| ${headers.map(() => "---").join(" | ")} |`];
  for (const r of rows) lines.push(`| ${r.map(cell).join(" | ")} |`);
  return `${lines.join("\n")}\n`;
}

/** Our end-to-end rate over each ceiling and the peer, all from this run. */
function ratios(results: Record<string, BenchResult>): Figure[] {
  const ours = results["ingest-kafka"]?.figures.find((f) => f.unit === "events/s" && /end.to.end/i.test(f.metric));
  const c = results.ceilings?.figures;
  if (!ours || !c) return [];
  ours.target ??= ">= 60000";
  const out: Figure[] = [];
  // Flush (one batch plan = one insert) latency, from the end-to-end run's detail.
  const d = results["ingest-kafka"]?.detail as { batch_ms_p50?: number; batch_ms_p99?: number } | undefined;
  if (d?.batch_ms_p50 !== undefined)
    out.push({ scenario: "1 ingest", metric: "ours: flush (batch insert) latency p50", value: d.batch_ms_p50, unit: "ms" });
  if (d?.batch_ms_p99 !== undefined)
    out.push({ scenario: "1 ingest", metric: "ours: flush (batch insert) latency p99", value: d.batch_ms_p99, unit: "ms" });
  const pick = (re: RegExp) => c.find((f) => re.test(f.metric));
  // Issue 20's targets: ≥ 0.75× the raw insert, ≥ 1.5× the peer, CPU per event ≤ 1.4× the raw insert's per row.
  const pairs: [RegExp, string, string | undefined][] = [
    [/raw insert/, "ours / raw-insert ceiling", ">= 0.75"],
    [/consume-and-discard/, "ours / consume-and-discard ceiling", undefined],
    [/peer: /, "ours / Kafka table engine peer", ">= 1.5"],
  ];
  for (const [re, metric, target] of pairs) {
    const base = pick(re);
    if (base && base.value > 0)
      out.push({ scenario: "1 ingest", metric, value: round(ours.value / base.value, 2), unit: "x", ...(target ? { target } : {}) });
  }
  const oursCpu = results["ingest-kafka"]?.figures.find((f) => /CPU per event/.test(f.metric));
  const rawCpu = pick(/engine CPU per row/);
  if (oursCpu && rawCpu && rawCpu.value > 0)
    out.push({
      scenario: "1 ingest",
      metric: "ours CPU per event / raw insert CPU per row",
      value: round(oursCpu.value / rawCpu.value, 2),
      unit: "x",
      target: "<= 1.4",
    });
  const rss = results["ingest-kafka"]?.figures.find((f) => /RSS peak/.test(f.metric));
  if (rss) rss.target ??= "<= 700";
  return out;
}

/** The issue's query targets, on the query scenario's figures (which carry none themselves). */
function queryTargets(figures: Figure[]): void {
  for (const f of figures) {
    if (f.scenario !== "3 queries" || f.target) continue;
    if (/ cached p99$/.test(f.metric)) f.target = "<= 5";
    if (/^usage 90d day uncached p99$/.test(f.metric)) f.target = "<= 50";
  }
}

/** "ok" / "MISSED" against a target like ">= 60000", "<= 5", "> 1", "0". */
function verdict(f: Figure): string {
  if (!f.target) return "";
  const m = /^(>=|<=|>|<)?\s*([\d.]+)$/.exec(f.target);
  if (!m) return "";
  const t = Number(m[2]);
  const ok = { ">=": f.value >= t, "<=": f.value <= t, ">": f.value > t, "<": f.value < t, "": f.value === t }[m[1] ?? ""];
  return ok ? "ok" : "MISSED";
}

function resultPath(name: string) {
  return join(RESULTS_DIR, `${name}.json`);
}

function readResult(name: string): BenchResult {
  return JSON.parse(readFileSync(resultPath(name), "utf8")) as BenchResult;
}

function log(msg: string) {
  process.stderr.write(`[bench] ${msg}\n`);
}

if (process.argv.includes("--report")) reportExisting();
else await main();
process.exit(0);
