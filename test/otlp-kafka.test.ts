import { randomUUID } from "node:crypto";
import { SpanStatusCode } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Tokenmeter } from "../apps/tokenmeter/src/app.js";
import { testBrokers } from "./support/kafka.js";
import { expectedTotals, SCENARIO } from "./support/otel-scenario.js";
import { analytics, startTestTokenmeter } from "./support/otlp-app.js";

// Issue 18 with TOKENMETER_KAFKA_BROKERS: /v1/traces produces the usage events
// to the topic like /v1/events (200 once the broker acked), and the consumer's
// exactly-once path stores a twice-sent export once.
describe("POST /v1/traces through Kafka", () => {
  let tm: Tokenmeter;
  const topic = `otlp-${randomUUID().slice(0, 8)}`;
  const base = Date.now() - 15 * 60_000;

  beforeAll(async () => {
    tm = await startTestTokenmeter({
      TOKENMETER_KAFKA_BROKERS: testBrokers(),
      TOKENMETER_KAFKA_TOPIC: topic,
      TOKENMETER_KAFKA_DLQ_TOPIC: `${topic}.dlq`,
      TOKENMETER_KAFKA_GROUP_ID: `${topic}-group`,
      TOKENMETER_KAFKA_PARTITIONS: "2",
    });
  }, 120_000);

  afterAll(async () => {
    await tm?.stop();
  });

  it("the JS SDK's protobuf export, sent twice, is counted once by the consumer", async () => {
    expect(tm.transport.kafka).not.toBeNull();
    const org = `org-otel-kafka-${randomUUID().slice(0, 6)}`;
    const token = await tm.issueToken(org);
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": "support-bot" }),
      spanProcessors: [new SimpleSpanProcessor(memory)],
    });
    const tracer = provider.getTracer("test-genai-app");
    for (const s of SCENARIO) {
      const span = tracer.startSpan(s.name, { startTime: base + s.startOffsetMs, attributes: s.attributes });
      if (s.error) span.setStatus({ code: SpanStatusCode.ERROR, message: s.error });
      span.end(base + s.startOffsetMs + s.durationMs);
    }
    const spans: ReadableSpan[] = memory.getFinishedSpans();
    const exporter = new OTLPTraceExporter({ url: `${tm.url}/v1/traces`, headers: { Authorization: `Bearer ${token}` } });
    for (let i = 0; i < 2; i++) {
      await new Promise<void>((resolve, reject) => exporter.export(spans, (r) => (r.code === 0 ? resolve() : reject(r.error))));
    }
    await exporter.shutdown();

    // Bounded wait for the consumer; each poll is a fresh cache key.
    const want = expectedTotals();
    let totals: Record<string, number> = {};
    for (let attempt = 0; attempt < 60 && totals.requests !== want.requests; attempt++) {
      await new Promise((r) => setTimeout(r, 1_000));
      totals = (await analytics<{ totals: Record<string, number> }>(tm, token, "/v1/analytics/usage", base - 3_600_000)).totals;
    }
    expect(totals).toMatchObject(want);
    const raw = await tm.store.query<{ n: number }>("SELECT count() AS n FROM llm_usage WHERE org_id = {org:String}", { org });
    expect(Number(raw[0]?.n)).toBe(want.requests);
  });
});
