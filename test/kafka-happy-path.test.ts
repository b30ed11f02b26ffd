import type { ChdbStore } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced } from "@tokenmeter/core";
import { DEFAULT_KAFKA_INGEST, startKafkaIngest } from "@tokenmeter/ingest";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTopic, deleteTopics, groupLag, liveEvents, normalized, produce, testKafka, uniqueTopic, waitFor } from "./support/kafka.js";
import { dropTestStore, openTestStore } from "./support/store.js";
import { expectExactly } from "./support/totals.js";

const kafka = testKafka();
const topic = uniqueTopic("happy");
let store: ChdbStore;

beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await deleteTopics(kafka, [topic, `${topic}.dlq`]);
  await dropTestStore(store);
});

it("100,000 events produced: exactly those in raw and in every rollup", { timeout: 240_000 }, async () => {
  await createTopic(kafka, topic, 6);
  await createTopic(kafka, `${topic}.dlq`, 1);
  const events = liveEvents(100_000, 41);
  await produce(kafka, topic, events, 5_000);
  const registry = new Registry();
  const ingest = await startKafkaIngest({
    kafka,
    store,
    pricer: reportedOrUnpriced,
    logger: pino({ level: "silent" }),
    registry,
    settings: { ...DEFAULT_KAFKA_INGEST, topic, dlqTopic: `${topic}.dlq`, groupId: `g-${topic}`, createPartitions: 0 },
  });
  try {
    await waitFor("caught up", async () => (await groupLag(kafka, `g-${topic}`, topic)) === 0, 180_000, 500);
  } finally {
    await ingest.stop();
  }
  await expectExactly(store, normalized(events));
  const metrics = await registry.metrics();
  expect(metrics).toMatch(/tokenmeter_kafka_rows_inserted_total 100000/);
  expect(metrics).toMatch(/tokenmeter_kafka_messages_consumed_total 100000/);
  expect(metrics).toMatch(/tokenmeter_kafka_consumer_lag\{topic="[^"]+",partition="0"\} 0/);
});
