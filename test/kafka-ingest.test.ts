import { randomUUID } from "node:crypto";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced } from "@tokenmeter/core";
import { DEFAULT_KAFKA_INGEST, type KafkaIngest, parseDlqMessage, readDlq, redrive, startKafkaIngest } from "@tokenmeter/ingest";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTopic, deleteTopics, groupLag, liveEvents, normalized, produce, testKafka, uniqueTopic, waitFor } from "./support/kafka.js";
import { dropTestStore, openTestStore } from "./support/store.js";
import { COUNTING_TABLES, type CountingTable, duplicateIds, expectedTotals, storedTotals } from "./support/totals.js";

const logger = pino({ level: "silent" });
const kafka = testKafka();

describe("Kafka ingest against a real broker", () => {
  let store: ChdbStore;
  const topics: string[] = [];
  const running: KafkaIngest[] = [];
  let clock = Date.now();

  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(async () => {
    for (const r of running) await r.stop();
    await deleteTopics(kafka, topics);
    await dropTestStore(store);
  });

  async function start(topic: string, dlqTopic: string, groupId: string, registry = new Registry()): Promise<KafkaIngest> {
    const ingest = await startKafkaIngest({
      kafka,
      store,
      pricer: reportedOrUnpriced,
      logger,
      registry,
      now: () => clock,
      retry: { retryMinMs: 20, retryMaxMs: 200 },
      settings: { ...DEFAULT_KAFKA_INGEST, topic, dlqTopic, groupId, createPartitions: 0, maxBatchRows: 700, sessionTimeoutMs: 10_000 },
    });
    running.push(ingest);
    return ingest;
  }

  it("stores every valid event once, sends poison to the DLQ with reasons, and re-drives after a fix", async () => {
    const topic = uniqueTopic("usage");
    const dlqTopic = `${topic}.dlq`;
    const groupId = `g-${topic}`;
    topics.push(topic, dlqTopic);
    await createTopic(kafka, topic, 3);
    await createTopic(kafka, dlqTopic, 1);

    const events = liveEvents(3_000, 7);
    // 2 % produced twice (a producer retry after a lost ack), later in the stream.
    const repeats = events.filter((_, i) => i % 50 === 0);
    const future = { ...events[0]!, event_id: randomUUID(), event_time: new Date(clock + 20 * 60_000).toISOString() };
    const poison: Array<string | Buffer> = [
      "not json {",
      JSON.stringify({ ...events[1], event_id: randomUUID(), input_tokens: "12", status_code: 999 }),
      JSON.stringify({ ...events[2], event_id: randomUUID(), tags: { a: "x".repeat(300_000) } }),
      "",
      "[1,2,3]",
    ];
    await produce(kafka, topic, events.slice(0, 1_500));
    await produce(kafka, topic, [...poison, future]);
    await produce(kafka, topic, [...events.slice(1_500), ...repeats]);

    const registry = new Registry();
    const ingest = await start(topic, dlqTopic, groupId, registry);
    await waitFor("consumer caught up", async () => (await groupLag(kafka, groupId, topic)) === 0, 90_000);
    expect(ingest.ready()).toBe(true);

    // Every valid event once, in raw and in every rollup.
    const expected = expectedTotals(normalized(events));
    const stored = await storedTotals(store);
    expect(await duplicateIds(store)).toBe(0);
    for (const table of Object.keys(COUNTING_TABLES) as CountingTable[]) {
      for (const [org, t] of Object.entries(expected)) {
        const s = stored[table][org]!;
        expect({ table, org, ...s, cost_micros: 0 }).toEqual({ table, org, ...t, cost_micros: 0 });
        expect(Math.abs(s.cost_micros - t.cost_micros)).toBeLessThanOrEqual(2);
      }
    }
    const sources = await store.query<{ s: string }>("SELECT source AS s FROM llm_usage LIMIT 1");
    expect(sources[0]?.s).toMatch(new RegExp(`^kafka:${topic}:\\d:\\d+$`));

    // The DLQ holds the six poison messages, original bytes, reasons with field paths, source coordinates.
    const dlq = await readDlq(kafka, dlqTopic);
    expect(dlq).toHaveLength(6);
    const byKind: Record<string, typeof dlq> = {};
    for (const e of dlq) byKind[e.kind] = [...(byKind[e.kind] ?? []), e];
    expect(byKind.undecodable?.[0]?.value.toString()).toBe("not json {");
    expect(byKind.empty).toHaveLength(1);
    const invalid = byKind.invalid ?? [];
    expect(invalid.map((e) => e.errors.map((x) => x.path).sort())).toEqual(
      expect.arrayContaining([["input_tokens", "status_code"], ["(event)"], ["event_time"]]),
    );
    expect(byKind.too_large?.[0]?.value.length).toBeGreaterThan(300_000);
    for (const e of dlq) expect(e.source).toMatchObject({ topic, partition: expect.any(Number), offset: expect.stringMatching(/^\d+$/) });
    const metrics = await registry.getSingleMetricAsString("tokenmeter_kafka_dlq_messages_total");
    expect(metrics).toContain('kind="invalid"} 3');

    // Re-drive after a fix: the future-dated event becomes valid once the clock
    // catches up; the wrong-types one is re-driven with corrected bytes.
    clock += 25 * 60_000;
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const futureEntry = invalid.find((e) => e.errors[0]?.path === "event_time")!;
    const typesEntry = invalid.find((e) => e.errors.some((x) => x.path === "status_code"))!;
    const fixed = {
      ...JSON.parse(typesEntry.value.toString()),
      input_tokens: 12,
      output_tokens: 3,
      status_code: 200,
      cached_input_tokens: 0,
      reasoning_tokens: 0,
    };
    await redrive(producer, [futureEntry]);
    await redrive(producer, [typesEntry], { value: () => Buffer.from(JSON.stringify(fixed)) });
    // Re-driving the same entry twice stores it once (event_id de-duplication).
    await redrive(producer, [futureEntry]);
    await producer.disconnect();
    await waitFor("re-driven events consumed", async () => (await groupLag(kafka, groupId, topic)) === 0, 60_000);
    const ids = await store.query<{ n: number }>("SELECT count() AS n FROM llm_usage WHERE event_id IN {ids:Array(UUID)}", {
      ids: [future.event_id, fixed.event_id],
    });
    expect(Number(ids[0]?.n)).toBe(2);
    expect(await duplicateIds(store)).toBe(0);
    expect(parseDlqMessage(0, { offset: "0", key: null, value: null }).kind).toBe("");
  });
});
