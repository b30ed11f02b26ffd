import type { ChdbStore, Store } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced, toUsageRow } from "@tokenmeter/core";
import {
  DEFAULT_KAFKA_INGEST,
  encodeIntent,
  FaultyStore,
  insertRange,
  type KafkaIngest,
  kafkaSource,
  startKafkaIngest,
  toPayload,
} from "@tokenmeter/ingest";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTopic, deleteTopics, groupLag, liveEvents, normalized, produce, testKafka, uniqueTopic, waitFor } from "./support/kafka.js";
import { dropTestStore, openTestStore } from "./support/store.js";
import { expectExactly, truncateCounting } from "./support/totals.js";

const logger = pino({ level: "silent" });
const kafka = testKafka();

describe("exactly-once effect of Kafka ingest (real broker, real engine)", () => {
  let store: ChdbStore;
  const topics: string[] = [];
  const running: KafkaIngest[] = [];

  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(async () => {
    for (const r of running) await r.stop().catch(() => {});
    await deleteTopics(kafka, topics);
    await dropTestStore(store);
  });

  async function setup(partitions: number) {
    const topic = uniqueTopic("eo");
    topics.push(topic, `${topic}.dlq`);
    await createTopic(kafka, topic, partitions);
    await createTopic(kafka, `${topic}.dlq`, 1);
    // Each scenario its own database, so totals are per scenario.
    await truncateCounting(store);
    return { topic, dlqTopic: `${topic}.dlq`, groupId: `g-${topic}` };
  }

  async function start(
    names: { topic: string; dlqTopic: string; groupId: string },
    over: { store?: Store; registry?: Registry; sessionTimeoutMs?: number; heartbeatIntervalMs?: number } = {},
  ) {
    const ingest = await startKafkaIngest({
      kafka,
      store: over.store ?? store,
      pricer: reportedOrUnpriced,
      logger,
      registry: over.registry ?? new Registry(),
      retry: { retryMinMs: 10, retryMaxMs: 100 },
      settings: {
        ...DEFAULT_KAFKA_INGEST,
        ...names,
        createPartitions: 0,
        maxBatchRows: 400,
        sessionTimeoutMs: over.sessionTimeoutMs ?? 10_000,
        heartbeatIntervalMs: over.heartbeatIntervalMs ?? 1_000,
      },
    });
    running.push(ingest);
    return ingest;
  }

  it("completes the rollups of a range whose insert was cut off after the raw part landed (crash mid-insert, month boundary)", async () => {
    const names = await setup(1);
    // A range that straddles a month boundary: its raw insert is two parts, one per month.
    const monthStart = new Date();
    monthStart.setUTCDate(1);
    monthStart.setUTCHours(0, 0, 0, 0);
    const events = liveEvents(300, 11).map((e, i) => ({
      ...e,
      event_time: new Date(monthStart.getTime() + (i % 2 === 0 ? -1 : 1) * (60_000 + i * 1_000)).toISOString(),
    }));
    await produce(kafka, names.topic, events, 1_000);

    // What a member killed mid-insert leaves behind: 1. the intent for offsets 0..299 in the
    // committed offset's metadata; 2. the raw (and hourly) parts stored under the range token,
    // but not the daily part (its MV detached for the write, as if the process died in between).
    const crashed = kafka.consumer({ groupId: names.groupId });
    await crashed.connect();
    await crashed.subscribe({ topic: names.topic, fromBeginning: true });
    let recorded = false;
    await crashed.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async () => {
        if (recorded) return;
        await crashed.commitOffsets([
          { topic: names.topic, partition: 0, offset: "0", metadata: encodeIntent({ first: "0", last: "299" }) },
        ]);
        recorded = true;
      },
    });
    await waitFor("intent recorded", async () => recorded, 30_000, 50);
    await crashed.disconnect();
    const rows = normalized(events).map((e, i) => toUsageRow(e, reportedOrUnpriced.price(e), kafkaSource(names.topic, 0, String(i))));
    await store.command("DETACH TABLE llm_usage_daily_mv");
    await insertRange(store, { topic: names.topic, partition: 0, first: "0", last: "299" }, toPayload(rows));
    await store.command("ATTACH TABLE llm_usage_daily_mv");
    const dailyBefore = await store.query<{ n: number }>("SELECT sum(requests) AS n FROM llm_usage_daily");
    expect(Number(dailyBefore[0]?.n ?? 0)).toBe(0);

    // The restarted consumer redoes exactly 0..299 under the same token: raw and hourly
    // de-duplicate, daily is filled.
    const registry = new Registry();
    const ingest = await start(names, { registry });
    await waitFor("caught up", async () => (await groupLag(kafka, names.groupId, names.topic)) === 0, 60_000);
    await ingest.stop();
    await expectExactly(store, normalized(events));
    expect(await registry.getSingleMetricAsString("tokenmeter_kafka_ranges_redone_total")).toContain(
      "tokenmeter_kafka_ranges_redone_total 1",
    );
    const months = await store.query<{ n: number }>("SELECT uniqExact(toYYYYMM(event_time)) AS n FROM llm_usage");
    expect(Number(months[0]?.n)).toBe(2);
  });

  it("stores everything once while inserts fail, or time out after storing, at random", async () => {
    const names = await setup(3);
    const events = liveEvents(3_000, 12);
    const repeats = events.filter((_, i) => i % 50 === 0);
    await produce(kafka, names.topic, [...events, ...repeats]);
    const faulty = new FaultyStore(store, { failRate: 0.25, timeoutRate: 0.25, maxDelayMs: 20 });
    const registry = new Registry();
    const ingest = await start(names, { store: faulty, registry });
    await waitFor("caught up", async () => (await groupLag(kafka, names.groupId, names.topic)) === 0, 90_000);
    await ingest.stop();
    await expectExactly(store, normalized(events));
    expect(await registry.getSingleMetricAsString("tokenmeter_kafka_store_retries_total")).toMatch(/op="insert"} [1-9]/);
  });

  it("stores everything once when a member joins while another is mid-insert (rebalance, zombie flush)", async () => {
    const names = await setup(4);
    const events = liveEvents(4_000, 13);
    await produce(kafka, names.topic, events);
    // Member A writes through a store that takes 2.5 s per insert, so the rebalance
    // B causes lands while A's ranges are in flight.
    let slowInserts = 0;
    const slow: Store = Object.assign(Object.create(store) as Store, {
      insert: async (table: string, rows: Buffer, opts: object) => {
        slowInserts++;
        await new Promise((r) => setTimeout(r, 2_500));
        return store.insert(table, rows, opts);
      },
      query: store.query.bind(store),
      command: store.command.bind(store),
    });
    const registry = new Registry();
    const a = await start(names, { store: slow, registry, sessionTimeoutMs: 6_000 });
    await waitFor("A inserting", async () => slowInserts > 0, 30_000, 20);
    const b = await start(names, { registry });
    await waitFor("caught up", async () => (await groupLag(kafka, names.groupId, names.topic)) === 0, 120_000, 500);
    await b.stop();
    await a.stop();
    await expectExactly(store, normalized(events));
    const rebalances = await registry.getSingleMetricAsString("tokenmeter_kafka_rebalances_total");
    expect(Number(/ (\d+)$/m.exec(rebalances)?.[1])).toBeGreaterThanOrEqual(3);
  });
});
