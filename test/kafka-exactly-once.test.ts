import type { ChdbStore, Store } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced, USAGE_TSV_HEADER, usageTsvLine } from "@tokenmeter/core";
import {
  type BatchPlan,
  batchPlan,
  DEFAULT_KAFKA_INGEST,
  encodeIntent,
  FaultyStore,
  insertPlan,
  type KafkaIngest,
  kafkaSource,
  startKafkaIngest,
} from "@tokenmeter/ingest";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTopic,
  deleteTopics,
  groupLag,
  liveEvents,
  normalized,
  produce,
  readEvents,
  testKafka,
  uniqueTopic,
  waitFor,
} from "./support/kafka.js";
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

  /** Commits a plan's intent on every partition of it, as a member does before its insert. */
  async function recordIntent(names: { topic: string; groupId: string }, plan: BatchPlan) {
    const crashed = kafka.consumer({ groupId: names.groupId });
    await crashed.connect();
    await crashed.subscribe({ topic: names.topic, fromBeginning: true });
    let recorded = false;
    await crashed.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async () => {
        if (recorded) return;
        const metadata = encodeIntent(plan);
        await crashed.commitOffsets(plan.ranges.map((r) => ({ topic: names.topic, partition: r.partition, offset: r.first, metadata })));
        recorded = true;
      },
    });
    await waitFor("intent recorded", async () => recorded, 30_000, 50);
    await crashed.disconnect();
  }

  /** The insert of a process killed between the raw part and the daily rollup part. */
  async function insertWithoutDaily(plan: BatchPlan, lines: string[]) {
    await store.command("DETACH TABLE llm_usage_daily_mv");
    await insertPlan(store, plan, Buffer.from(USAGE_TSV_HEADER + lines.join("")));
    await store.command("ATTACH TABLE llm_usage_daily_mv");
    const dailyBefore = await store.query<{ n: number }>("SELECT sum(requests) AS n FROM llm_usage_daily");
    expect(Number(dailyBefore[0]?.n ?? 0)).toBe(0);
  }

  /** The test store, with every insert delayed (so a rebalance lands while one is in flight). */
  function slowStore(onInsert: () => void, delayMs = 2_500): Store {
    return Object.assign(Object.create(store) as Store, {
      insert: async (table: string, rows: Buffer, opts: object) => {
        onInsert();
        await new Promise((r) => setTimeout(r, delayMs));
        return store.insert(table, rows, opts);
      },
      query: store.query.bind(store),
      command: store.command.bind(store),
    });
  }

  async function partitionOffsets(topic: string) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const o = await admin.fetchTopicOffsets(topic);
      return o.map((p) => ({ partition: p.partition, high: Number(p.high) })).sort((x, y) => x.partition - y.partition);
    } finally {
      await admin.disconnect();
    }
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

    // What a member killed mid-insert leaves behind: 1. the intent (the plan: offsets 0..299)
    // in the committed offset's metadata; 2. the raw (and hourly) parts stored under the plan
    // token, but not the daily part (its MV detached for the write, as if the process died in between).
    const plan = batchPlan(names.topic, [{ partition: 0, first: "0", last: "299" }]);
    await recordIntent(names, plan);
    const rows = normalized(events).map((e, i) => usageTsvLine(e, reportedOrUnpriced.price(e), kafkaSource(names.topic, 0, String(i))));
    await insertWithoutDaily(plan, rows);

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

  it("completes a plan that a rebalance split between two members (each redoes all of it, reading the other's ranges)", async () => {
    const names = await setup(2);
    const events = liveEvents(400, 14);
    // Keyed by event_id: the two partitions get about half each.
    await produce(kafka, names.topic, events);
    const stored = await partitionOffsets(names.topic);
    // The crash state of a two-partition plan: intent on both partitions, raw stored, daily not.
    const plan = batchPlan(
      names.topic,
      stored.map((s) => ({ partition: s.partition, first: "0", last: String(s.high - 1) })),
    );
    await recordIntent(names, plan);
    const byOffset = await readEvents(kafka, names.topic);
    const rows = plan.ranges.flatMap((r) =>
      byOffset
        .filter((m) => m.partition === r.partition)
        .map((m) => usageTsvLine(m.event, reportedOrUnpriced.price(m.event), kafkaSource(names.topic, m.partition, m.offset))),
    );
    expect(rows).toHaveLength(events.length);
    await insertWithoutDaily(plan, rows);

    // A redoes the plan through a store whose inserts take 8 s, so B's join splits the
    // partitions while A's redo is in flight: afterwards each owns one partition whose
    // intent names both, and must read the other's range to send the same rows.
    let slowInserts = 0;
    const slow = slowStore(() => slowInserts++, 8_000);
    const registry = new Registry();
    const a = await start(names, { store: slow, registry, sessionTimeoutMs: 6_000 });
    await waitFor("A redoing", async () => slowInserts > 0, 30_000, 20);
    const b = await start(names, { registry });
    await waitFor("caught up", async () => (await groupLag(kafka, names.groupId, names.topic)) === 0, 120_000, 500);
    await b.stop();
    await a.stop();
    await expectExactly(store, normalized(events));
    const reads = await registry.getSingleMetricAsString("tokenmeter_kafka_redo_ranges_read_total");
    expect(Number(/ (\d+)$/m.exec(reads)?.[1])).toBeGreaterThanOrEqual(1);
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
    const slow = slowStore(() => slowInserts++);
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
