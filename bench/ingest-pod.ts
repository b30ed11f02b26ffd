/**
 * The ingest pod as Kubernetes runs it (issue 20: "pod limits in deploy/k8s
 * set from a measured figure"): the tokenmeter-ingest Deployment's command
 * and env from the rendered single-node overlay (test/support/topology.ts),
 * the HTTP driver, draining a topic of realistic events into ClickHouse's HTTP
 * interface. No ClickHouse server can be installed here, so the endpoint is
 * the project's HTTP server over chDB (test/support/clickhouse-http-server.ts)
 * in this process: the engine's memory is this process's, not the pod's.
 *
 * Measured on the pod alone: RSS of its whole process group (the container's
 * cgroup holds tsx's launcher and the service), sampled every 250 ms, and the
 * CPU time of that group per event. Clock: from the pod's start to every
 * event counted in llm_usage.
 *
 *   tsx bench/ingest-pod.ts [--quick] [--events=N] [--brokers=H:P --topic=T] [--env='K=V;K=V']
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbStore } from "@tokenmeter/clickhouse";
import { startClickHouseHttpServer } from "../test/support/clickhouse-http-server.js";
import { freePort, renderPods, runToCompletion, startProcess, stopProcess, waitForStatus } from "../test/support/topology.js";
import { benchArgs, numberOption } from "./lib/args.js";
import { benchTopic, topicSize } from "./lib/kafka.js";
import { benchPodEnv } from "./lib/pods.js";
import { writeResult } from "./lib/results.js";
import { processCpuMs, processGroup, rssOfPid } from "./lib/rss.js";
import { topicSpec } from "./lib/scenarios.js";
import { rate, round } from "./lib/stats.js";

const args = benchArgs();
const { spec, partitions } = topicSpec(args, 1_000_000);
const timeoutMs = numberOption(args, "timeout-ms", 300_000, 120_000);
const SECRETS = { "jwt-secret": "p".repeat(40), "clickhouse-password": "ingest-pod" };
const log = (m: string) => process.stderr.write(`[ingest-pod] ${m}\n`);

/** Resident set (MiB) summed, and CPU time (ms) per pid, of a process group's processes now. */
function groupUsage(pgid: number): { rssMb: number; cpuMs: Map<number, number> } {
  let rssMb = 0;
  const cpuMs = new Map<number, number>();
  for (const pid of processGroup(pgid)) {
    try {
      cpuMs.set(pid, processCpuMs(pid));
      rssMb += rssOfPid(pid) ?? 0;
    } catch {
      // The process ended since the listing.
    }
  }
  return { rssMb, cpuMs };
}

async function main() {
  const { brokers, topic, produced, release } = await benchTopic({
    brokers: args.options.brokers,
    topic: args.options.topic,
    prefix: "bench.pod",
    partitions,
    spec,
    log,
  });
  const expected = await topicSize(brokers, topic);
  const dir = mkdtempSync(join(tmpdir(), "tokenmeter-bench-ingest-pod-"));
  const database = `pod_${Date.now()}`;
  const store = await ChdbStore.open({ dataDir: join(dir, "chdb"), database });
  const clickhouse = await startClickHouseHttpServer({
    dataDir: join(dir, "chdb"),
    username: "tokenmeter",
    password: SECRETS["clickhouse-password"],
  });
  const pods = await renderPods("single-node");
  const site = {
    clickhouseUrl: clickhouse.url,
    database,
    brokers,
    topic,
    group: `${topic}-pod-${Date.now()}`,
    partitions,
    dataRoot: dir,
    secrets: SECRETS,
  };
  // --env=K=V;K=V: settings to try against the manifest's (e.g. smaller batches).
  const extra = Object.fromEntries(
    (args.options.env ?? "")
      .split(";")
      .filter(Boolean)
      .map((kv) => kv.split("=") as [string, string]),
  );
  const env = (workload: string, pod: string, port: number) => benchPodEnv(pods.get(workload)!, pod, port, site, extra);
  let result: Record<string, unknown> | null = null;
  try {
    await runToCompletion("migrate", pods.get("tokenmeter-migrate")!.command, env("tokenmeter-migrate", "migrate", 0));
    const port = await freePort();
    const started = performance.now();
    const pod = startProcess("ingest", pods.get("tokenmeter-ingest")!.command, env("tokenmeter-ingest", "ingest", port));
    const pgid = pod.child.pid!;
    const samples: Array<{ t_ms: number; rss_mb: number }> = [];
    const cpu = new Map<number, number>();
    const sample = () => {
      const u = groupUsage(pgid);
      for (const [pid, ms] of u.cpuMs) cpu.set(pid, Math.max(cpu.get(pid) ?? 0, ms));
      if (u.rssMb > 0) samples.push({ t_ms: Math.round(performance.now() - started), rss_mb: Math.round(u.rssMb) });
    };
    const timer = setInterval(sample, 250);
    try {
      await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, pod, 120_000);
      const readyMs = performance.now() - started;
      const cpuAtReady = [...cpu.values()].reduce((a, b) => a + b, 0);
      const deadline = Date.now() + timeoutMs;
      let stored = 0;
      while (stored < expected && Date.now() < deadline && pod.child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 500));
        const [row] = await store.query<{ n: number }>("SELECT count() AS n FROM llm_usage");
        stored = Number(row?.n ?? 0);
      }
      sample();
      const elapsedMs = performance.now() - started;
      const cpuMs = [...cpu.values()].reduce((a, b) => a + b, 0) - cpuAtReady;
      const peak = Math.max(...samples.map((s) => s.rss_mb));
      const flushes = pod.logs.filter((l) => l.op === "flush" && typeof l.rows === "number");
      result = {
        events: expected,
        stored,
        complete: stored === expected,
        elapsed_ms: Math.round(elapsedMs),
        ready_ms: Math.round(readyMs),
        events_per_s: rate(stored, elapsedMs),
        cpu_us_per_event: stored > 0 ? round((cpuMs * 1000) / stored, 1) : null,
        rss_peak_mb: peak,
        rss_at_ready_mb: samples.find((s) => s.t_ms >= readyMs)?.rss_mb ?? null,
        rss_end_mb: samples.at(-1)?.rss_mb ?? null,
        batches: flushes.length,
        rows_per_batch_max: Math.max(0, ...flushes.map((l) => Number(l.rows))),
        http_requests: clickhouse.requests,
        rss_samples: samples.filter((_, i) => i % Math.max(1, Math.ceil(samples.length / 60)) === 0),
        produced,
      };
      log(`${stored}/${expected} events in ${Math.round(elapsedMs)} ms: ${result.events_per_s} events/s, RSS peak ${peak} MB`);
      if (!result.complete)
        log(
          `incomplete; the pod's last logs:\n${pod.logs
            .slice(-5)
            .map((l) => JSON.stringify(l))
            .join("\n")}`,
        );
    } finally {
      clearInterval(timer);
      await stopProcess(pod, "SIGTERM", 30_000);
    }
  } finally {
    await clickhouse.close();
    await store.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => undefined);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    await release();
  }
  if (!result) throw new Error("no result");
  const figures = [
    { scenario: "ingest-pod", metric: "ingest pod (HTTP driver) events/s", value: Number(result.events_per_s), unit: "events/s" },
    { scenario: "ingest-pod", metric: "ingest pod RSS peak (process group)", value: Number(result.rss_peak_mb), unit: "MB" },
    { scenario: "ingest-pod", metric: "ingest pod CPU per event", value: Number(result.cpu_us_per_event), unit: "µs" },
  ];
  writeResult({ scenario: "ingest-pod", quick: args.quick, figures, detail: result });
  console.log(JSON.stringify({ ...result, rss_samples: undefined }, null, 2));
}

await main();
process.exit(0);
