import { randomUUID } from "node:crypto";
import { SpanStatusCode } from "@opentelemetry/api";
import { OTLPTraceExporter as HttpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Tokenmeter } from "../apps/tokenmeter/src/app.js";
import { expectedCost, expectedEvent, expectedTotals, SCENARIO } from "./support/otel-scenario.js";
import { analytics, startTestTokenmeter } from "./support/otlp-app.js";

// Issue 18: the OpenTelemetry JS SDK's own OTLP exporters (protobuf, and JSON
// gzipped) send GenAI spans to /v1/traces of the running product; the
// analytics API must then report exactly the scenario's totals.
let tm: Tokenmeter;
let spans: ReadableSpan[];
const base = Date.now() - 20 * 60_000;

beforeAll(async () => {
  tm = await startTestTokenmeter();
  // Record the spans once, so the same export (same ids) can be sent again.
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "support-bot", "tokenmeter.project_id": "proj-otel" }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer("test-genai-app", "1.0.0");
  for (const s of SCENARIO) {
    const span = tracer.startSpan(s.name, { startTime: base + s.startOffsetMs, attributes: s.attributes });
    if (s.error) span.setStatus({ code: SpanStatusCode.ERROR, message: s.error });
    span.end(base + s.startOffsetMs + s.durationMs);
  }
  await provider.forceFlush();
  spans = memory.getFinishedSpans();
  expect(spans).toHaveLength(SCENARIO.length);
}, 120_000);

afterAll(async () => {
  await tm?.stop();
});

function exportWith(exporter: SpanExporter): Promise<void> {
  return new Promise((resolve, reject) =>
    exporter.export(spans, (r) => (r.code === 0 ? resolve() : reject(r.error ?? new Error(`export failed: ${r.code}`)))),
  );
}

type Usage = { totals: Record<string, number> };

async function checkAnalytics(org: string) {
  const token = await tm.issueToken(org);
  const want = expectedTotals();
  const usage = await analytics<Usage>(tm, token, "/v1/analytics/usage", base - 3_600_000);
  expect(usage.totals).toMatchObject(want);
  const errors = await analytics<{ totals: { errors: number; by_code: Record<string, number> } }>(
    tm,
    token,
    "/v1/analytics/errors",
    base - 3_600_000,
  );
  expect(errors.totals.errors).toBe(1);
  expect(errors.totals.by_code).toEqual({ rate_limit_exceeded: 1 });
  // One call per model: its percentiles are that call's own figures.
  const streamed = SCENARIO.find((s) => s.attributes["gen_ai.response.time_to_first_chunk"] !== undefined)!;
  type Latency = { series: { requests: number; ttfb_ms: { p50: number | null }; duration_ms: { p50: number | null } }[] };
  const latency = await analytics<Latency>(tm, token, "/v1/analytics/latency", base - 3_600_000, {
    model: String(streamed.attributes["gen_ai.response.model"]),
    percentile: "50",
  });
  const bucket = latency.series.find((b) => b.requests > 0)!;
  expect(bucket.ttfb_ms.p50).toBe(350);
  expect(bucket.duration_ms.p50).toBe(streamed.durationMs);
  const models = await analytics<{ models: { model: string; requests: number; cost_usd: number }[] }>(
    tm,
    token,
    "/v1/analytics/models",
    base - 3_600_000,
  );
  for (const s of SCENARIO) {
    const e = expectedEvent(s);
    if (e === null) continue;
    expect(models.models.find((m) => m.model === e.model && m.requests > 0 && e.status_code < 400)?.cost_usd ?? 0).toBeCloseTo(
      e.status_code < 400 ? expectedCost(e) : 0,
      6,
    );
  }
  const rows = await tm.store.query<{
    source: string;
    agent_id: string;
    user_id: string;
    session_id: string;
    project_id: string;
    streaming: number;
  }>("SELECT source, agent_id, user_id, session_id, project_id, streaming FROM llm_usage WHERE org_id = {org:String} ORDER BY event_time", {
    org,
  });
  expect(rows.map((r) => r.source)).toEqual(["otlp:gen_ai", "otlp:gen_ai", "otlp:gen_ai", "otlp:gen_ai"]);
  expect(rows[0]).toMatchObject({
    agent_id: "agent-support",
    user_id: "user-7",
    session_id: "conv-1",
    project_id: "proj-otel",
    streaming: 0,
  });
  expect(rows.map((r) => Number(r.streaming))).toEqual([0, 0, 0, 1]);
}

describe("OpenTelemetry JS SDK exporters → POST /v1/traces", () => {
  it("protobuf exporter: model calls stored once, tool and agent spans skipped, a re-sent export changes nothing", async () => {
    const org = `org-otel-proto-${randomUUID().slice(0, 6)}`;
    const exporter = new ProtoExporter({ url: `${tm.url}/v1/traces`, headers: { Authorization: `Bearer ${await tm.issueToken(org)}` } });
    await exportWith(exporter);
    await checkAnalytics(org);
    await exportWith(exporter);
    await checkAnalytics(org);
    await exporter.shutdown();
  });

  it("JSON exporter with gzip: the same totals", async () => {
    const org = `org-otel-json-${randomUUID().slice(0, 6)}`;
    const exporter = new HttpJsonExporter({
      url: `${tm.url}/v1/traces`,
      headers: { Authorization: `Bearer ${await tm.issueToken(org)}` },
      compression: "gzip" as never,
    });
    await exportWith(exporter);
    await exportWith(exporter);
    await checkAnalytics(org);
    await exporter.shutdown();
  });

  it("a cached + reasoning call costs the same through /v1/traces and /v1/events", async () => {
    const org = `org-otel-cost-${randomUUID().slice(0, 6)}`;
    const token = await tm.issueToken(org);
    const exporter = new ProtoExporter({ url: `${tm.url}/v1/traces`, headers: { Authorization: `Bearer ${token}` } });
    await exportWith(exporter);
    const s = SCENARIO[0]!;
    const e = expectedEvent(s)!;
    const res = await fetch(`${tm.url}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify([{ ...e, event_id: randomUUID(), event_time: new Date(base).toISOString(), ttfb_ms: undefined }]),
    });
    expect(res.status).toBe(200);
    const rows = await tm.store.query<{ source: string; cost: string; cost_source: string }>(
      "SELECT source, toString(cost_usd) AS cost, cost_source FROM llm_usage WHERE org_id = {org:String} AND model = {model:String} ORDER BY source",
      { org, model: e.model },
    );
    expect(rows.map((r) => r.source)).toEqual(["http", "otlp:gen_ai"]);
    expect(rows[0]!.cost_source).toBe("computed");
    expect(rows[0]!.cost).toBe(rows[1]!.cost);
    expect(Number(rows[0]!.cost)).toBeCloseTo(expectedCost(e), 9);
    await exporter.shutdown();
  });
});
