import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTokenmeter, type Tokenmeter } from "../apps/tokenmeter/src/app.js";
import { loadConfig } from "../apps/tokenmeter/src/config.js";
import { testBrokers } from "./support/kafka.js";
import { TEST_DATA_DIR, testDatabaseName } from "./support/store.js";

// "Two ways to run, one code path" (README, docs/adr): setting TOKENMETER_KAFKA_BROKERS is
// the only change, and HTTP ingest then goes through a real broker (produce,
// consume, insert) before the same query API answers.
describe("all-in-one with TOKENMETER_KAFKA_BROKERS", () => {
  let tm: Tokenmeter;
  let token = "";
  const topic = `aio-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    const parsed = loadConfig({
      TOKENMETER_PORT: "0",
      TOKENMETER_DATA_DIR: TEST_DATA_DIR,
      TOKENMETER_CLICKHOUSE_DATABASE: testDatabaseName(),
      TOKENMETER_JWT_SECRET: "k".repeat(40),
      TOKENMETER_DEMO: "0",
      TOKENMETER_PRICING_SOURCE: "bundled",
      TOKENMETER_KAFKA_BROKERS: testBrokers(),
      TOKENMETER_KAFKA_TOPIC: topic,
      TOKENMETER_KAFKA_DLQ_TOPIC: `${topic}.dlq`,
      TOKENMETER_KAFKA_GROUP_ID: `${topic}-group`,
      TOKENMETER_KAFKA_PARTITIONS: "2",
    });
    if (!parsed.ok) throw new Error(parsed.errors.join("; "));
    tm = await startTokenmeter(parsed.config, { logger: pino({ level: "warn" }) });
    token = await tm.issueToken("org-kafka");
  }, 120_000);

  afterAll(async () => {
    await tm?.stop();
  });

  it("acknowledges over Kafka and serves what the consumer stored, duplicates counted once", async () => {
    expect(tm.transport.kafka).not.toBeNull();
    expect(tm.transport.writer).toBeNull();
    const now = Date.now();
    const events = Array.from({ length: 300 }, (_, i) => ({
      event_id: randomUUID(),
      event_time: new Date(now - 60_000 - i * 1_000).toISOString(),
      provider: "openai",
      model: "gpt-4o-mini",
      input_tokens: 100 + i,
      output_tokens: 10,
      status_code: i % 50 === 0 ? 500 : 200,
    }));
    const post = (body: unknown) =>
      fetch(`${tm.url}/v1/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await post(events)).status).toBe(200);
    // A producer retry of the first 30 events: stored once by the consumer.
    expect((await post(events.slice(0, 30))).status).toBe(200);

    const wantInput = events.reduce((s, e) => s + e.input_tokens, 0);
    const url = `${tm.url}/v1/analytics/usage?granularity=hour&start=${new Date(now - 3_600_000 * 2).toISOString()}&end=${new Date(now + 60_000).toISOString()}`;
    let totals = { requests: 0, errors: 0, input_tokens: 0 };
    // Bounded wait for the consumer (and past the cache TTL: each poll uses a new end).
    for (let attempt = 0; attempt < 60 && totals.requests < events.length; attempt++) {
      await new Promise((r) => setTimeout(r, 1_000));
      const res = await fetch(`${url.replace(/end=[^&]+/, `end=${new Date(now + 60_000 * (attempt + 2)).toISOString()}`)}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      totals = ((await res.json()) as { totals: typeof totals }).totals;
    }
    expect(totals).toMatchObject({ requests: 300, errors: 6, input_tokens: wantInput });
    const raw = await tm.store.query<{ n: number }>("SELECT count() AS n FROM llm_usage WHERE org_id = {org:String}", { org: "org-kafka" });
    expect(Number(raw[0]?.n)).toBe(300);
  });
});
