/**
 * Scenario 1, "ours": the ingest service (services/ingest/src/main.ts, a child
 * process with its own chDB data dir) drains a topic of realistic events into
 * llm_usage + rollups. Clock: from the child's start (produce is complete) to
 * the group's committed offsets reaching the end of the topic — offsets are
 * committed only after the insert, so every row is queryable then. RSS of the
 * child is sampled every second.
 *
 *   tsx bench/ingest-kafka.ts [--quick]                       own broker, own topic
 *   tsx bench/ingest-kafka.ts --brokers= --topic= --events= … the runner's shared topic
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ChdbStore } from "@tokenmeter/clickhouse";
import { benchArgs, numberOption } from "./lib/args.js";
import { benchTopic, kafkaClient, topicSize } from "./lib/kafka.js";
import { REPO_DIR, writeResult } from "./lib/results.js";
import { processCpuMs, RssSampler } from "./lib/rss.js";
import { topicSpec } from "./lib/scenarios.js";
import { rate, round } from "./lib/stats.js";

const args = benchArgs();
const { spec, partitions } = topicSpec(args);
const timeoutMs = numberOption(args, "timeout-ms", 900_000, 150_000);
/** Timed steps of one batch insert, as the consumer logs them ("op":"flush"). */
const STAGES = ["stage_ms", "intent_ms", "dlq_ms", "dedup_ms", "insert_ms", "commit_ms"];
const log = (m: string) => process.stderr.write(`[ingest-kafka] ${m}\n`);

async function main() {
  // 1. The topic: the runner's shared one, or our own broker and topic.
  const { brokers, topic, produced, release } = await benchTopic({
    brokers: args.options.brokers,
    topic: args.options.topic,
    prefix: "bench.ingest",
    partitions,
    spec,
    log,
  });
  const expected = await topicSize(brokers, topic);
  const dataDir = mkdtempSync(join(tmpdir(), "tokenmeter-bench-ingest-kafka-"));
  const groupId = `bench-ingest-${Date.now()}`;
  let child: ChildProcess | null = null;
  try {
    // 2. The service, timed from spawn; RSS sampled from its pid.
    const started = performance.now();
    const flushes: Array<{ t: number; rows: number; ms: number; stages: Record<string, number> }> = [];
    child = spawn(process.execPath, ["--import", "tsx", "services/ingest/src/main.ts"], {
      cwd: REPO_DIR,
      stdio: ["ignore", "pipe", "inherit"],
      env: {
        ...process.env,
        TOKENMETER_DATA_DIR: dataDir,
        TOKENMETER_INGEST_PORT: "0",
        TOKENMETER_JWT_SECRET: "bench-secret-bench-secret-bench-secret-0123",
        TOKENMETER_KAFKA_BROKERS: brokers,
        TOKENMETER_KAFKA_TOPIC: topic,
        TOKENMETER_KAFKA_DLQ_TOPIC: `${topic}.dlq`,
        TOKENMETER_KAFKA_GROUP_ID: groupId,
        TOKENMETER_LOG_LEVEL: "info",
      },
    });
    const rss = new RssSampler(1_000, child.pid).start();
    let readyMs = 0;
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.includes('"op":"ready"')) readyMs = performance.now() - started;
      if (!line.includes('"op":"flush"')) return;
      const f = JSON.parse(line) as Record<string, number>;
      const stages = Object.fromEntries(STAGES.map((k) => [k, Number(f[k] ?? 0)]));
      flushes.push({ t: performance.now() - started, rows: Number(f.rows), ms: Number(f.ms), stages });
    });
    await waitCaughtUp(brokers, groupId, topic, expected, started);
    const totalMs = performance.now() - started;
    const cpuMs = processCpuMs(child.pid!);
    const memory = rss.stop();
    // 3. Drain: SIGTERM (finish, commit, leave), then count what is stored.
    child.kill("SIGTERM");
    await new Promise((r) => child!.once("exit", r));
    const store = await ChdbStore.open({ dataDir, database: "tokenmeter" });
    const [row] = await store.query<{ raw: number; daily: number }>(
      "SELECT (SELECT count() FROM llm_usage) AS raw, (SELECT sum(requests) FROM llm_usage_daily) AS daily",
    );
    await store.close();
    const firstFlush = flushes[0]?.t ?? readyMs;
    const steadyMs = totalMs - firstFlush;
    const flushMs = flushes.map((f) => f.ms).sort((a, b) => a - b);
    const e2e = rate(expected, totalMs);
    log(
      `end to end ${e2e} events/s (${expected} in ${Math.round(totalMs)} ms, ready after ${Math.round(readyMs)} ms); RSS peak ${memory.peak_mb} MB; CPU ${round((cpuMs * 1000) / expected, 1)} µs/event (all threads); ${flushes.length} batches, batch ms p50 ${flushMs[Math.floor(flushMs.length * 0.5)] ?? 0}; stage ms summed ${STAGES.map((k) => `${k} ${flushes.reduce((s, f) => s + (f.stages[k] ?? 0), 0)}`).join(", ")}`,
    );
    writeResult({
      scenario: "ingest-kafka",
      quick: args.quick,
      figures: [
        {
          scenario: "1 ingest",
          metric: "ours: Kafka -> chDB end to end (incl. start + group join)",
          value: e2e,
          unit: "events/s",
          target: ">= 60000",
        },
        {
          scenario: "1 ingest",
          metric: "ours: steady state (first batch stored -> caught up)",
          value: rate(expected, steadyMs),
          unit: "events/s",
        },
        { scenario: "1 ingest", metric: "ours: ingest RSS peak", value: memory.peak_mb, unit: "MB" },
        {
          scenario: "1 ingest",
          metric: "ours: ingest process CPU per event (all threads, start included)",
          value: round((cpuMs * 1000) / expected, 1),
          unit: "µs",
        },
        { scenario: "1 ingest", metric: "ours: stored rows = produced", value: Number(row?.raw) === expected ? 1 : 0, unit: "bool" },
      ],
      detail: {
        events: expected,
        produced,
        total_ms: Math.round(totalMs),
        ready_ms: Math.round(readyMs),
        first_batch_ms: Math.round(firstFlush),
        batches: flushes.length,
        batch_rows_mean: round(flushes.reduce((s, f) => s + f.rows, 0) / Math.max(1, flushes.length), 0),
        batch_ms_p50: flushMs[Math.floor(flushMs.length * 0.5)] ?? 0,
        batch_ms_p99: flushMs[Math.floor(flushMs.length * 0.99)] ?? 0,
        // Where a batch's time goes (the consumer's flush log), summed over batches.
        batch_stage_ms: Object.fromEntries(STAGES.map((k) => [k, flushes.reduce((s, f) => s + (f.stages[k] ?? 0), 0)])),
        stored: { raw: Number(row?.raw), daily_requests: Number(row?.daily) },
        rss: memory,
      },
    });
  } finally {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
    await release();
  }
}

/** Polls the group's committed offsets until they cover the topic (bounded). */
async function waitCaughtUp(brokers: string, groupId: string, topic: string, expected: number, started: number): Promise<void> {
  const admin = kafkaClient(brokers, "bench-lag").admin();
  await admin.connect();
  try {
    for (;;) {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const done = (offsets?.partitions ?? []).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
      if (done >= expected) return;
      if (performance.now() - started > timeoutMs) throw new Error(`not caught up after ${timeoutMs} ms (${done}/${expected})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.disconnect();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
