/**
 * Fault injection against a real broker and the real engine, with the ingest
 * service as a real child process (tsx services/ingest/src/main.ts):
 * - 200,000 events flow in while the ingest process is SIGKILLed at random
 *   moments 5 times and restarted on the same chDB data directory;
 * - inserts fail (10 %) or time out after they were stored (10 %) at random
 *   (test-only TOKENMETER_FAULT_* knobs, FaultyStore);
 * - 2 % of events are produced twice;
 * - a second consumer member joins and later leaves mid-run (SIGUSR2 toggles
 *   it inside the ingest process: chDB allows one process per data
 *   directory, so the second member shares the process and its store; the
 *   group protocol, partition revocation and hand-over are the real ones).
 * Afterwards: raw count = unique valid events; raw, daily and hourly totals
 * per org equal the totals computed from the produced events.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ChdbStore } from "@tokenmeter/clickhouse";
import type { UsageEventInput } from "@tokenmeter/core";
import { PriceBook } from "@tokenmeter/pricing";
import { afterAll, expect, it } from "vitest";
import {
  createTopic,
  deleteTopics,
  groupLag,
  liveEvents,
  normalized,
  produce,
  testBrokers,
  testKafka,
  uniqueTopic,
  waitFor,
} from "./support/kafka.js";
import { expectExactly } from "./support/totals.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const EVENTS = 200_000;
const KILLS = 5;
const kafka = testKafka();
const topic = uniqueTopic("fault");
const dlqTopic = `${topic}.dlq`;
const groupId = `g-${topic}`;
const dataDir = mkdtempSync(join(tmpdir(), "tokenmeter-fault-"));
let child: ChildProcess | null = null;
/** What the children logged, to show the faults really happened. */
const seen = { ranges: 0, redone: 0, retries: 0, memberChanges: 0, joins: 0 };

afterAll(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await deleteTopics(kafka, [topic, dlqTopic]);
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts the ingest service; resolves once it logged "ingest ready" (bounded). */
async function startIngest(): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ["--import", "tsx", "services/ingest/src/main.ts"], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "inherit"],
    env: {
      ...process.env,
      TOKENMETER_DATA_DIR: dataDir,
      TOKENMETER_CLICKHOUSE_DATABASE: "fault",
      TOKENMETER_INGEST_PORT: "0",
      TOKENMETER_JWT_SECRET: "fault-test-secret-fault-test-secret-0123",
      TOKENMETER_KAFKA_BROKERS: testBrokers(),
      TOKENMETER_KAFKA_TOPIC: topic,
      TOKENMETER_KAFKA_DLQ_TOPIC: dlqTopic,
      TOKENMETER_KAFKA_GROUP_ID: groupId,
      TOKENMETER_KAFKA_CREATE_TOPICS: "false",
      TOKENMETER_KAFKA_SESSION_TIMEOUT_MS: "6000",
      TOKENMETER_KAFKA_HEARTBEAT_INTERVAL_MS: "1000",
      TOKENMETER_KAFKA_MAX_BATCH_ROWS: "5000",
      TOKENMETER_LOG_LEVEL: "info",
      TOKENMETER_FAULT_INSERT_FAIL_RATE: "0.1",
      TOKENMETER_FAULT_INSERT_TIMEOUT_RATE: "0.1",
      TOKENMETER_FAULT_INSERT_DELAY_MS: "50",
      TOKENMETER_FAULT_EXTRA_MEMBER_SIGNAL: "1",
    },
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("ingest did not get ready in 60 s")), 60_000);
    const lines = createInterface({ input: proc.stdout! });
    lines.on("line", (line) => {
      if (line.includes('"op":"flush"')) seen.ranges++;
      if (line.includes('"redo":true')) seen.redone++;
      if (line.includes("retrying")) seen.retries++;
      if (line.includes('"op":"members"')) seen.memberChanges++;
      if (line.includes('"op":"group_join"')) seen.joins++;
      if (line.includes('"op":"ready"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once("exit", (code) => reject(new Error(`ingest exited with ${code} before ready`)));
  });
  return proc;
}

function exited(proc: ChildProcess): Promise<void> {
  return proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once("exit", () => r()));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it("counts every valid event exactly once through SIGKILLs, insert faults, producer repeats and a rebalance", {
  timeout: 300_000,
}, async () => {
  await createTopic(kafka, topic, 4);
  await createTopic(kafka, dlqTopic, 1);
  const events = liveEvents(EVENTS, 21);

  // Producer: 2,000 events a chunk at a steady pace (~60 s in all); 2 % of each chunk
  // is sent again with the next one, as a producer retry after a lost ack would.
  let produced = 0;
  const producing = (async () => {
    let repeats: UsageEventInput[] = [];
    for (let i = 0; i < events.length; i += 2_000) {
      const chunk = events.slice(i, i + 2_000);
      await produce(kafka, topic, [...repeats, ...chunk], 4_000);
      repeats = chunk.filter((_, j) => j % 50 === 0);
      produced += chunk.length;
      await sleep(500);
    }
    await produce(kafka, topic, repeats);
  })();

  // Ingest: killed KILLS times at random moments, restarted each time; a second member
  // joins after the second restart and leaves after the third.
  child = await startIngest();
  for (let k = 1; k <= KILLS; k++) {
    if (k === 3) {
      await sleep(2_000 + Math.random() * 2_000);
      child.kill("SIGUSR2"); // second member joins: rebalance
      await sleep(5_000 + Math.random() * 3_000);
      child.kill("SIGUSR2"); // and leaves: rebalance
    }
    await sleep(3_000 + Math.random() * 6_000);
    child.kill("SIGKILL");
    await exited(child);
    child = await startIngest();
  }
  await producing;
  expect(produced).toBe(EVENTS);
  await waitFor("ingest caught up", async () => (await groupLag(kafka, groupId, topic)) === 0, 180_000, 1_000);
  child.kill("SIGTERM");
  await exited(child);
  expect(child.exitCode).toBe(0);

  process.stderr.write(`fault injection: ${JSON.stringify(seen)}\n`);
  expect(seen.retries).toBeGreaterThan(0);
  expect(seen.memberChanges).toBe(2);
  expect(seen.joins).toBeGreaterThanOrEqual(KILLS + 3);

  // The store, opened by this process only now that the service is gone.
  const store = await ChdbStore.open({ dataDir, database: "fault" });
  try {
    const pricer = await PriceBook.load(store);
    await expectExactly(store, normalized(events), pricer);
  } finally {
    await store.close();
  }
});
