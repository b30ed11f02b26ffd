/**
 * `tsx bench/recovery.ts [--quick] [--session=30000:3000,10000:1000]`: how long a
 * consumer group takes to resume the partitions of an ingest pod that goes
 * away, for each session timeout. Two ingest pods run as the k8s manifests
 * start them (test/support/topology.ts), against a real Kafka broker and the
 * ClickHouse HTTP test endpoint over chDB. Per session timeout (ms, with the
 * heartbeat interval after a colon):
 * - SIGKILL one pod; at that instant one probe event is produced to every
 *   partition; "resume" = all probes stored (the dead pod's partitions wait
 *   for the group to notice it, i.e. the session timeout);
 * - restart it, then SIGTERM it while idle: "exit" = the process is gone,
 *   "resume" = the probes of its partitions are stored by the other pod.
 * Prints a table and writes bench/results/recovery.json.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbStore } from "@tokenmeter/clickhouse";
import { Kafka, logLevel } from "kafkajs";
import { startClickHouseHttpServer } from "../test/support/clickhouse-http-server.js";
import { testBrokers } from "../test/support/kafka.js";
import {
  freePort,
  killPod,
  type PodSpec,
  type Proc,
  renderPods,
  runToCompletion,
  startProcess,
  stopProcess,
  waitForStatus,
} from "../test/support/topology.js";
import { benchArgs } from "./lib/args.js";
import { benchPodEnv } from "./lib/pods.js";
import { type BenchResult, type Figure, RESULTS_DIR, runMeta } from "./lib/results.js";

const args = benchArgs();
const sessions = (args.options.session ?? (args.quick ? "10000:1000" : "30000:3000,10000:3000,10000:1000,6000:1000"))
  .split(",")
  .map((pair) => {
    const [session, heartbeat] = pair.split(":").map(Number) as [number, number | undefined];
    return { session, heartbeat: heartbeat ?? Math.min(3_000, Math.floor(session / 3)) };
  });
const PARTITIONS = 6;
const SECRETS = { "jwt-secret": "r".repeat(40), "clickhouse-password": "recovery" };

const dir = mkdtempSync(join(tmpdir(), "tokenmeter-recovery-"));
const database = `recovery_${Date.now()}`;
const store = await ChdbStore.open({ dataDir: join(dir, "chdb"), database });
const clickhouse = await startClickHouseHttpServer({
  dataDir: join(dir, "chdb"),
  username: "tokenmeter",
  password: SECRETS["clickhouse-password"],
});
const brokers = testBrokers();
const kafka = new Kafka({ clientId: "bench-recovery", brokers: brokers.split(","), logLevel: logLevel.NOTHING });
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await producer.connect();
const pods = await renderPods("single-node");
const ingestSpec = pods.get("tokenmeter-ingest") as PodSpec;

type Timeouts = { session: number; heartbeat: number };

function env(spec: PodSpec, pod: string, topic: string, t: Timeouts, port: number): Record<string, string> {
  const site = {
    clickhouseUrl: clickhouse.url,
    database,
    brokers,
    topic,
    group: `${topic}-group`,
    partitions: PARTITIONS,
    dataRoot: dir,
    secrets: SECRETS,
  };
  return benchPodEnv(spec, pod, port, site, {
    TOKENMETER_KAFKA_SESSION_TIMEOUT_MS: String(t.session),
    TOKENMETER_KAFKA_HEARTBEAT_INTERVAL_MS: String(t.heartbeat),
  });
}

async function startIngest(pod: string, topic: string, session: Timeouts): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = startProcess(pod, ingestSpec.command, env(ingestSpec, pod, topic, session, port));
  const url = `http://127.0.0.1:${port}`;
  await waitForStatus(`${url}/readyz`, 200, proc, 120_000);
  return { proc, url };
}

/** The latest assignment a pod logged (partitions of the topic it owns now). */
function owned(proc: Proc, topic: string): number[] {
  const joins = proc.logs.filter((l) => l.op === "group_join");
  const last = joins.at(-1)?.assignment as Record<string, number[]> | undefined;
  return last?.[topic] ?? [];
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One probe event per partition, produced now; resolves with the ms until all are stored. */
async function probeAll(topic: string, t0: number): Promise<number> {
  const org = `probe-${topic}-${t0}`;
  const now = new Date().toISOString();
  await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: PARTITIONS }, (_, partition) => ({
      partition,
      value: JSON.stringify({
        event_id: crypto.randomUUID(),
        event_time: now,
        org_id: org,
        provider: "openai",
        model: "gpt-4o-mini",
        input_tokens: 1,
        output_tokens: 1,
        status_code: 200,
      }),
    })),
  });
  await until(
    "probes stored",
    async () => {
      const [r] = await store.query<{ n: number }>("SELECT count() AS n FROM llm_usage WHERE org_id = {org:String}", { org });
      return Number(r?.n) === PARTITIONS;
    },
    180_000,
  );
  return Date.now() - t0;
}

const rows: Array<{
  session_ms: number;
  heartbeat_ms: number;
  kill_resume_ms: number;
  restart_rejoin_ms: number;
  term_exit_ms: number;
  term_resume_ms: number;
}> = [];
try {
  await runToCompletion(
    "migrate",
    pods.get("tokenmeter-migrate")!.command,
    env(pods.get("tokenmeter-migrate")!, "migrate", "x", { session: 6_000, heartbeat: 1_000 }, 0),
  );
  for (const session of sessions) {
    const topic = `recovery-${session.session}-${session.heartbeat}-${Date.now()}`;
    const a = await startIngest("ingest-a", topic, session);
    const b = await startIngest("ingest-b", topic, session);
    await until("both members own partitions", () => owned(a.proc, topic).length > 0 && owned(b.proc, topic).length > 0, 120_000);

    // 1. SIGKILL: the other member resumes the dead one's partitions once the session times out.
    let t0 = Date.now();
    killPod(a.proc);
    const killResume = await probeAll(topic, t0);

    // 2. The killed pod comes back (as the Deployment restarts it): time until it owns partitions again.
    t0 = Date.now();
    const a2 = await startIngest("ingest-a2", topic, session);
    await until("restarted member owns partitions", () => owned(a2.proc, topic).length > 0, 180_000);
    const rejoin = Date.now() - t0;

    // 3. SIGTERM while idle (a few seconds after the last event): the pod finishes, commits, leaves
    //    the group; the other takes over at once.
    await new Promise((r) => setTimeout(r, 3_000));
    t0 = Date.now();
    const exited = stopProcess(a2.proc, "SIGTERM", 60_000).then(() => Date.now() - t0);
    const termResume = await probeAll(topic, t0);
    const termExit = await exited;
    await stopProcess(b.proc, "SIGTERM", 60_000);
    rows.push({
      session_ms: session.session,
      heartbeat_ms: session.heartbeat,
      kill_resume_ms: killResume,
      restart_rejoin_ms: rejoin,
      term_exit_ms: termExit,
      term_resume_ms: termResume,
    });
    console.log(JSON.stringify(rows.at(-1)));
  }
} finally {
  await producer.disconnect();
  await clickhouse.close();
  await store.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => undefined);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

const figures: Figure[] = rows.flatMap((r) => {
  const at = `session ${r.session_ms} ms, heartbeat ${r.heartbeat_ms} ms`;
  return [
    { scenario: "recovery", metric: `resume after SIGKILL, ${at}`, value: r.kill_resume_ms, unit: "ms" },
    { scenario: "recovery", metric: `restarted pod owns partitions, ${at}`, value: r.restart_rejoin_ms, unit: "ms" },
    { scenario: "recovery", metric: `SIGTERM to exit (idle), ${at}`, value: r.term_exit_ms, unit: "ms" },
    { scenario: "recovery", metric: `resume after SIGTERM, ${at}`, value: r.term_resume_ms, unit: "ms" },
  ];
});
const result: BenchResult = { scenario: "recovery", quick: args.quick, meta: runMeta(), figures, detail: { rows, partitions: PARTITIONS } };
const { writeFileSync, mkdirSync } = await import("node:fs");
mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(join(RESULTS_DIR, "recovery.json"), `${JSON.stringify(result, null, 2)}\n`);
console.table(rows);
console.log(`load average (1 min) at the end: ${result.meta.load_avg_1m}`);
process.exit(0);
