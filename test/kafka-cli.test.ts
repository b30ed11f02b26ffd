import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced } from "@tokenmeter/core";
import { DEFAULT_KAFKA_INGEST, type KafkaIngest, startKafkaIngest } from "@tokenmeter/ingest";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTopic, deleteTopics, groupLag, liveEvents, produce, testBrokers, testKafka, uniqueTopic, waitFor } from "./support/kafka.js";
import { dropTestStore, openTestStore } from "./support/store.js";

const run = promisify(execFile);
const REPO = fileURLToPath(new URL("..", import.meta.url));
const kafka = testKafka();

/** Runs `tokenmeter …` as a real process against the test broker. */
function tokenmeter(args: string[]) {
  return run(process.execPath, ["--import", "tsx", "apps/tokenmeter/src/cli.ts", ...args], {
    cwd: REPO,
    env: { ...process.env, TOKENMETER_KAFKA_BROKERS: testBrokers() },
    timeout: 120_000,
  });
}

describe("tokenmeter loadgen and dlq (CLI processes, real broker)", () => {
  let store: ChdbStore;
  let ingest: KafkaIngest;
  const topic = uniqueTopic("cli");
  const dlqTopic = `${topic}.dlq`;
  const groupId = `g-${topic}`;

  beforeAll(async () => {
    store = await openTestStore();
    await createTopic(kafka, topic, 2);
    await createTopic(kafka, dlqTopic, 1);
    ingest = await startKafkaIngest({
      kafka,
      store,
      pricer: reportedOrUnpriced,
      logger: pino({ level: "silent" }),
      registry: new Registry(),
      settings: { ...DEFAULT_KAFKA_INGEST, topic, dlqTopic, groupId, createPartitions: 0 },
    });
  });
  afterAll(async () => {
    await ingest.stop();
    await deleteTopics(kafka, [topic, dlqTopic]);
    await dropTestStore(store);
  });

  const count = async () => Number((await store.query<{ n: number }>("SELECT count() AS n FROM llm_usage"))[0]?.n);

  it("loadgen produces realistic events (with repeats) that are stored once each", async () => {
    const { stdout } = await tokenmeter([
      "loadgen",
      "--count",
      "2000",
      "--rate",
      "0",
      "--topic",
      topic,
      "--orgs",
      "o1,o2",
      "--duplicates",
      "0.05",
    ]);
    const summary = JSON.parse(stdout.trim().split("\n").pop()!) as { events: number; sent: number; repeats: number };
    expect(summary.events).toBe(2000);
    expect(summary.repeats).toBeGreaterThan(0);
    await waitFor("consumed", async () => (await groupLag(kafka, groupId, topic)) === 0, 60_000);
    expect(await count()).toBe(2000);
    const orgs = await store.query<{ org_id: string }>("SELECT DISTINCT org_id FROM llm_usage ORDER BY org_id");
    expect(orgs.map((o) => o.org_id)).toEqual(["o1", "o2"]);
  });

  it("dlq inspect shows poison messages with reasons; dlq redrive --value-file stores the fixed event", async () => {
    const [good] = liveEvents(1, 51);
    await produce(kafka, topic, ["{oops", JSON.stringify({ ...good, input_tokens: "many" })]);
    await waitFor("consumed", async () => (await groupLag(kafka, groupId, topic)) === 0, 60_000);
    const before = await count();

    const { stdout } = await tokenmeter(["dlq", "inspect", "--topic", dlqTopic, "--json"]);
    const entries = stdout
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as { partition: number; offset: string; kind: string; errors: Array<{ path: string }>; source: { topic: string } },
      );
    // Unkeyed poison lands on any partition, so DLQ order is not the produce order.
    expect(entries.map((e) => e.kind).sort()).toEqual(["invalid", "undecodable"]);
    const invalid = entries.find((e) => e.kind === "invalid")!;
    expect(invalid.errors.map((e) => e.path)).toEqual(["input_tokens"]);
    expect(invalid.source.topic).toBe(topic);
    const text = await tokenmeter(["dlq", "inspect", "--topic", dlqTopic, "--kind", "invalid"]);
    expect(text.stdout).toContain("input_tokens: ");

    const fixed = join(tmpdir(), `fixed-${topic}.json`);
    writeFileSync(fixed, JSON.stringify(good));
    await tokenmeter(["dlq", "redrive", "--topic", dlqTopic, "--entry", `${invalid.partition}:${invalid.offset}`, "--value-file", fixed]);
    await waitFor("re-driven event stored", async () => (await count()) === before + 1, 60_000);
    // Re-driving it again changes nothing: same event_id.
    await tokenmeter(["dlq", "redrive", "--topic", dlqTopic, "--entry", `${invalid.partition}:${invalid.offset}`, "--value-file", fixed]);
    await waitFor("consumed", async () => (await groupLag(kafka, groupId, topic)) === 0, 60_000);
    expect(await count()).toBe(before + 1);
  });
});
