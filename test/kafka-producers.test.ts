import type { ChdbStore } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced } from "@tokenmeter/core";
import { issueToken } from "@tokenmeter/http";
import { createIngestRoutes, DEFAULT_KAFKA_INGEST, KafkaEventSink, type KafkaIngest, startKafkaIngest } from "@tokenmeter/ingest";
import { createUsageClient, HttpTransport, KafkaTransport, type ProducerLike } from "@tokenmeter/sdk";
import type { Producer } from "kafkajs";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTopic, deleteTopics, groupLag, liveEvents, normalized, testKafka, uniqueTopic, waitFor } from "./support/kafka.js";
import { dropTestStore, openTestStore } from "./support/store.js";
import { expectExactly, truncateCounting } from "./support/totals.js";

const logger = pino({ level: "silent" });
const kafka = testKafka();
const secret = "producer-test-secret-producer-test-secret";

describe("producers into Kafka: HTTP ingest and the SDK (real broker)", () => {
  let store: ChdbStore;
  let producer: Producer;
  let ingest: KafkaIngest;
  const topic = uniqueTopic("prod");
  const dlqTopic = `${topic}.dlq`;
  const groupId = `g-${topic}`;

  beforeAll(async () => {
    store = await openTestStore();
    await createTopic(kafka, topic, 2);
    await createTopic(kafka, dlqTopic, 1);
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    ingest = await startKafkaIngest({
      kafka,
      store,
      pricer: reportedOrUnpriced,
      logger,
      registry: new Registry(),
      settings: { ...DEFAULT_KAFKA_INGEST, topic, dlqTopic, groupId, createPartitions: 0 },
    });
  });
  afterAll(async () => {
    await ingest.stop();
    await producer.disconnect();
    await deleteTopics(kafka, [topic, dlqTopic]);
    await dropTestStore(store);
  });

  it("POST /v1/events answers 200 once the broker acked, and the consumer stores each event once", async () => {
    const app = createIngestRoutes({ sink: new KafkaEventSink(producer, topic), auth: { jwtSecret: secret }, logger });
    const token = await issueToken(secret, "acme");
    const events = liveEvents(600, 31).map((e) => ({ ...e, org_id: "acme" }));
    const post = (body: unknown[]) =>
      app.request("/v1/events", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const first = await post(events.slice(0, 400));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ accepted: 400, duplicates: 0, rejected: [] });
    // The client retries a request whose answer it lost: same events again, plus the rest and one bad item.
    const second = await post([...events.slice(300), { ...events[0], event_id: "nope" }]);
    expect(second.status).toBe(200);
    const body = (await second.json()) as { accepted: number; rejected: Array<{ index: number; errors: Array<{ path: string }> }> };
    expect(body.accepted).toBe(300);
    expect(body.rejected).toEqual([{ index: 300, errors: [expect.objectContaining({ path: "event_id" })] }]);

    await waitFor("consumed", async () => (await groupLag(kafka, groupId, topic)) === 0, 60_000);
    await expectExactly(store, normalized(events));
  });

  it("the SDK retries a batch whose ack was lost with the same event_ids; stored once", async () => {
    await truncateCounting(store);
    // The first send reaches the broker but its ack is "lost": the SDK sees an error and retries.
    let lost = 1;
    const flaky: ProducerLike = {
      async send(record) {
        await producer.send(record);
        if (lost-- > 0) throw new Error("connection reset before the ack");
      },
    };
    const client = createUsageClient({ transport: new KafkaTransport(flaky, topic), maxBatch: 250, retryMinMs: 5, flushOnExit: false });
    const events = liveEvents(1_000, 32);
    for (const e of events) client.track(e);
    await client.close();
    await waitFor("consumed", async () => (await groupLag(kafka, groupId, topic)) === 0, 60_000);
    await expectExactly(store, normalized(events));
  });

  it("the SDK's HTTP transport posts to /v1/events with the org from the credential; stored once", async () => {
    await truncateCounting(store);
    const app = createIngestRoutes({ sink: new KafkaEventSink(producer, topic), auth: { jwtSecret: secret }, logger });
    const transport = new HttpTransport({
      url: "http://ingest.test",
      token: await issueToken(secret, "globex"),
      fetch: (input, init) => Promise.resolve(app.request(String(input), init)),
    });
    const refused: string[] = [];
    const client = createUsageClient({ transport, maxBatch: 200, flushOnExit: false, onError: (err) => refused.push(err.message) });
    const events = liveEvents(500, 33).map(({ org_id: _, ...e }) => e);
    for (const e of events) client.track(e);
    await client.close();
    expect(refused).toEqual([]);
    await waitFor("consumed", async () => (await groupLag(kafka, groupId, topic)) === 0, 60_000);
    await expectExactly(store, normalized(events.map((e) => ({ ...e, org_id: "globex" }))));
  });
});
