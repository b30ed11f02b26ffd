import { type ChdbStore, type Store, StoreError } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced } from "@tokenmeter/core";
import { DEFAULT_KAFKA_INGEST, type KafkaIngest, startKafkaIngest } from "@tokenmeter/ingest";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTopic, deleteTopics, groupLag, liveEvents, produce, testKafka, uniqueTopic, waitFor } from "./support/kafka.js";
import { dropTestStore, openTestStore } from "./support/store.js";

const kafka = testKafka();

// A statement the store refuses outright (here: the stored-copy lookup, as a
// server with a smaller max_query_size would) cannot be skipped — the batch's
// offsets must not move past unstored rows — so the member keeps retrying; it
// must also say so: not ready, one error line, and ready again once accepted.
describe("a Kafka member whose writes the store refuses outright", () => {
  let store: ChdbStore;
  let ingest: KafkaIngest | null = null;
  const topic = uniqueTopic("stuck");
  let refuse = true;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(async () => {
    await ingest?.stop();
    await deleteTopics(kafka, [topic, `${topic}.dlq`]);
    await dropTestStore(store);
  });

  it("reports not ready while refused, stores every event once when accepted, and is ready again", async () => {
    const refusing: Store = {
      database: store.database,
      maxParamBytes: store.maxParamBytes,
      query: (sql, params, opts) =>
        refuse && /event_id IN/.test(sql)
          ? Promise.reject(new StoreError("syntax", "Max query size exceeded (test: the lookup is refused)", false))
          : store.query(sql, params, opts),
      insert: (table, rows, opts) => store.insert(table, rows, opts),
      command: (sql, params, opts) => store.command(sql, params, opts),
      close: async () => {},
    };
    await createTopic(kafka, topic, 2);
    await createTopic(kafka, `${topic}.dlq`, 1);
    const events = liveEvents(200, 11);
    await produce(kafka, topic, events);
    ingest = await startKafkaIngest({
      kafka,
      store: refusing,
      pricer: reportedOrUnpriced,
      logger: pino({ level: "info" }, { write: (l: string) => lines.push(JSON.parse(l)) }),
      registry: new Registry(),
      retry: { retryMinMs: 20, retryMaxMs: 100 },
      settings: {
        ...DEFAULT_KAFKA_INGEST,
        topic,
        dlqTopic: `${topic}.dlq`,
        groupId: `g-${topic}`,
        createPartitions: 0,
        sessionTimeoutMs: 10_000,
      },
    });
    const running = ingest;
    await waitFor("the member to say it is stuck", async () => lines.some((l) => l.level === 50 && l.op === "dedup"), 60_000);
    expect(running.ready()).toBe(false);
    const [none] = await store.query<{ n: number }>("SELECT count() AS n FROM llm_usage");
    expect(none?.n).toBe(0);
    const stuck = lines.filter((l) => l.level === 50 && l.op === "dedup");
    expect(stuck).toHaveLength(1);
    expect(String((stuck[0]!.err as { message: string }).message)).toContain("Max query size exceeded");

    refuse = false;
    await waitFor("caught up once the store accepts the lookup", async () => (await groupLag(kafka, `g-${topic}`, topic)) === 0, 60_000);
    await waitFor("ready again", async () => running.ready(), 10_000);
    const [row] = await store.query<{ n: number; ids: number }>("SELECT count() AS n, uniqExact(event_id) AS ids FROM llm_usage");
    expect(row).toEqual({ n: events.length, ids: events.length });
  });
});
