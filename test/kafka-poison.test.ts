/**
 * One bad event must never block anyone else's (issue #14), on the Kafka
 * path, against a real broker and the real engine:
 * - a lone UTF-16 surrogate goes to the DLQ as `invalid`, with a reason naming
 *   the field (the same rule as HTTP: validation refuses it);
 * - a row the engine refuses (a real data error, made by the FaultyStore's
 *   refuse marker) splits the insert: its original message goes to the DLQ as
 *   `refused` with the engine's message, every other event is stored exactly
 *   once, and the lag returns to 0;
 * - the same with the ingest process SIGKILLed mid-split, three times, and
 *   restarted: every valid event still counted once in raw and every rollup.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ChdbStore } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced, type UsageEventInput } from "@tokenmeter/core";
import { DEFAULT_KAFKA_INGEST, type KafkaIngest, readDlq, startKafkaIngest } from "@tokenmeter/ingest";
import { PriceBook } from "@tokenmeter/pricing";
import { pino } from "pino";
import { afterAll, expect, it } from "vitest";
import { FaultyStore } from "../services/ingest/src/fault-store.js";
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
import { dropTestStore, openTestStore } from "./support/store.js";
import { expectExactly } from "./support/totals.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const REPO = fileURLToPath(new URL("..", import.meta.url));
const MARKER = "refuse-me-c41d";
const kafka = testKafka();
const topics: string[] = [];
const cleanup: Array<() => Promise<void> | void> = [];

afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
  await deleteTopics(kafka, topics);
});

/** `n` valid events, alternately of org P and org V. */
function twoOrgs(n: number, seed: number, P: string, V: string): UsageEventInput[] {
  return liveEvents(n, seed).map((e, i) => ({ ...e, org_id: i % 2 === 0 ? P : V }));
}

async function newTopic(prefix: string, partitions: number): Promise<{ topic: string; dlqTopic: string; groupId: string }> {
  const topic = uniqueTopic(prefix);
  topics.push(topic, `${topic}.dlq`);
  await createTopic(kafka, topic, partitions);
  await createTopic(kafka, `${topic}.dlq`, 1);
  return { topic, dlqTopic: `${topic}.dlq`, groupId: `g-${topic}` };
}

it("sends a lone surrogate and an engine-refused row to the DLQ with their reasons, stores the rest once, lag 0", {
  timeout: 120_000,
}, async () => {
  const { topic, dlqTopic, groupId } = await newTopic("poison", 2);
  const store = await openTestStore();
  const P = "org-p";
  const valid = twoOrgs(999, 31, P, "org-v");
  const surrogate = { ...valid[0]!, event_id: randomUUID(), session_id: "\ud800" };
  const refused = { ...valid[1]!, event_id: randomUUID(), org_id: P, agent_id: MARKER };
  const refusedBytes = JSON.stringify(refused);
  await produce(kafka, topic, [...valid.slice(0, 400), surrogate, ...valid.slice(400, 700), refusedBytes, ...valid.slice(700)]);

  const ingest: KafkaIngest = await startKafkaIngest({
    kafka,
    store: new FaultyStore(store, { failRate: 0, timeoutRate: 0, maxDelayMs: 0, refuseMarker: MARKER }),
    pricer: reportedOrUnpriced,
    logger: pino({ level: "silent" }),
    retry: { retryMinMs: 20, retryMaxMs: 200 },
    settings: { ...DEFAULT_KAFKA_INGEST, topic, dlqTopic, groupId, createPartitions: 0, sessionTimeoutMs: 10_000 },
  });
  try {
    await waitFor("consumer caught up", async () => (await groupLag(kafka, groupId, topic)) === 0, 90_000);
    await expectExactly(store, normalized(valid));
  } finally {
    await ingest.stop();
    // chDB serves one data directory per process: the next test opens the child's.
    await dropTestStore(store);
  }
  const dlq = await readDlq(kafka, dlqTopic);
  const byKind = Object.fromEntries(dlq.map((e) => [e.kind, e]));
  expect(dlq.map((e) => e.kind).sort()).toEqual(["invalid", "refused"]);
  expect(byKind.invalid!.errors).toEqual([{ path: "session_id", message: expect.stringMatching(/well-formed Unicode/) }]);
  expect(byKind.invalid!.value.toString()).toBe(JSON.stringify(surrogate));
  // The original bytes, read back from the topic, with the engine's own message as the reason.
  expect(byKind.refused!.value.toString()).toBe(refusedBytes);
  expect(byKind.refused!.errors[0]!.message).toMatch(/^refused by the store: Code: 27\./);
  expect(byKind.refused!.source).toMatchObject({ topic });
});

it("holds exactly-once when the process is SIGKILLed mid-split and restarted", { timeout: 240_000 }, async () => {
  const { topic, dlqTopic, groupId } = await newTopic("poison-kill", 2);
  const dataDir = mkdtempSync(join(tmpdir(), "tokenmeter-poison-"));
  cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const valid = twoOrgs(3_000, 57, "org-p", "org-v");
  const marked = [150, 1_111, 2_500].map((i) => JSON.stringify({ ...valid[i]!, event_id: randomUUID(), agent_id: MARKER }));
  await produce(kafka, topic, [
    ...valid.slice(0, 1_000),
    marked[0]!,
    ...valid.slice(1_000, 2_000),
    marked[1]!,
    marked[2]!,
    ...valid.slice(2_000),
  ]);

  let child: ChildProcess | null = null;
  cleanup.push(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });
  const seen = { splits: 0, kills: 0 };
  /** Starts the ingest service; `onSplit` runs when it logs the first split of a batch. */
  const start = (onSplit: (proc: ChildProcess) => void) =>
    new Promise<ChildProcess>((resolve, reject) => {
      const proc = spawn(process.execPath, ["--import", "tsx", "services/ingest/src/main.ts"], {
        cwd: REPO,
        stdio: ["ignore", "pipe", "inherit"],
        env: {
          ...process.env,
          TOKENMETER_DATA_DIR: dataDir,
          TOKENMETER_CLICKHOUSE_DATABASE: "poison",
          TOKENMETER_INGEST_PORT: "0",
          TOKENMETER_JWT_SECRET: "poison-test-secret-poison-test-secret-01",
          TOKENMETER_KAFKA_BROKERS: testBrokers(),
          TOKENMETER_KAFKA_TOPIC: topic,
          TOKENMETER_KAFKA_DLQ_TOPIC: dlqTopic,
          TOKENMETER_KAFKA_GROUP_ID: groupId,
          TOKENMETER_KAFKA_CREATE_TOPICS: "false",
          TOKENMETER_KAFKA_SESSION_TIMEOUT_MS: "6000",
          TOKENMETER_KAFKA_HEARTBEAT_INTERVAL_MS: "1000",
          TOKENMETER_KAFKA_MAX_BATCH_ROWS: "1500",
          TOKENMETER_LOG_LEVEL: "info",
          TOKENMETER_FAULT_INSERT_REFUSE_MARKER: MARKER,
          // Each insert of the split takes up to 150 ms: a kill lands inside it.
          TOKENMETER_FAULT_INSERT_DELAY_MS: "150",
        },
      });
      const timer = setTimeout(() => reject(new Error("ingest did not get ready in 60 s")), 60_000);
      createInterface({ input: proc.stdout! }).on("line", (line) => {
        if (line.includes('"split":true') && line.includes('"rows"')) {
          seen.splits++;
          onSplit(proc);
        }
        if (line.includes('"op":"ready"')) {
          clearTimeout(timer);
          resolve(proc);
        }
      });
      proc.once("exit", (code, signal) => {
        clearTimeout(timer);
        // Killed by this test (a split began before "ready" was logged): the caller sees it exited.
        if (signal === "SIGKILL") resolve(proc);
        else reject(new Error(`ingest exited with ${code} before ready`));
      });
    });
  const exited = (proc: ChildProcess) =>
    proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => proc.once("exit", () => r()));

  // Killed at a random moment (0-1.2 s) after a split begins, up to three times; each restart redoes the
  // recorded plan, whose split starts again. Bounded: a run that splits no more is left to finish.
  let current: ChildProcess | null = null;
  for (let k = 0; k < 3; k++) {
    let armed = false;
    current = await start((proc) => {
      if (armed) return;
      armed = true;
      setTimeout(() => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        proc.kill("SIGKILL");
        seen.kills++;
      }, Math.random() * 1_200);
    });
    child = current;
    const done = await Promise.race([exited(current).then(() => "killed"), sleep(30_000).then(() => "no split")]);
    if (done !== "killed") break;
  }
  if (!current || current.exitCode !== null || current.signalCode !== null) current = await start(() => {});
  child = current;
  await waitFor("ingest caught up", async () => (await groupLag(kafka, groupId, topic)) === 0, 120_000, 500);
  current.kill("SIGTERM");
  await exited(current);
  expect(current.exitCode).toBe(0);
  process.stderr.write(`poison split kills: ${JSON.stringify(seen)}\n`);
  expect(seen.kills).toBeGreaterThanOrEqual(2);
  expect(seen.splits).toBeGreaterThan(seen.kills);

  const dlq = await readDlq(kafka, dlqTopic);
  // A message DLQ'd before a kill is sent again by the redo (at least once, folded by source).
  expect(new Set(dlq.map((e) => `${e.source?.partition}:${e.source?.offset}`)).size).toBe(3);
  expect(new Set(dlq.map((e) => e.value.toString()))).toEqual(new Set(marked));

  const store = await ChdbStore.open({ dataDir, database: "poison" });
  try {
    await expectExactly(store, normalized(valid), await PriceBook.load(store));
  } finally {
    await store.close();
  }
});
