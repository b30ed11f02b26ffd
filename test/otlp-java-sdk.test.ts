import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Tokenmeter } from "../apps/tokenmeter/src/app.js";
import { compileJavaExporter, otelJavaLibs, runJavaExporter, scenarioTsv } from "./support/otel-java.js";
import { expectedTotals, SCENARIO } from "./support/otel-scenario.js";
import { analytics, startTestTokenmeter } from "./support/otlp-app.js";

// Issue 18: a second language and a second real exporter — the OpenTelemetry
// Java SDK (Maven Central) sends the scenario over OTLP/HTTP protobuf, twice.
let tm: Tokenmeter;
let classpath: string;
const base = Date.now() - 30 * 60_000;

beforeAll(async () => {
  classpath = compileJavaExporter(otelJavaLibs());
  tm = await startTestTokenmeter();
}, 180_000);

afterAll(async () => {
  await tm?.stop();
});

describe("OpenTelemetry Java SDK → POST /v1/traces", () => {
  it.each(["plain", "gzip"])("protobuf (%s), sent twice: the analytics API reports the scenario exactly once", async (compression) => {
    const org = `org-otel-java-${randomUUID().slice(0, 6)}`;
    const token = await tm.issueToken(org);
    const args = [`${tm.url}/v1/traces`, token, String(base), ...(compression === "gzip" ? ["gzip"] : [])];
    expect(await runJavaExporter(classpath, args, scenarioTsv(SCENARIO))).toContain(`exported ${SCENARIO.length} spans twice`);
    const usage = await analytics<{ totals: Record<string, number> }>(tm, token, "/v1/analytics/usage", base - 3_600_000);
    expect(usage.totals).toMatchObject(expectedTotals());
    const errors = await analytics<{ totals: { by_code: Record<string, number> } }>(tm, token, "/v1/analytics/errors", base - 3_600_000);
    expect(errors.totals.by_code).toEqual({ rate_limit_exceeded: 1 });
    type Latency = { series: { requests: number; ttfb_ms: { p50: number | null }; duration_ms: { p50: number | null } }[] };
    const latency = await analytics<Latency>(tm, token, "/v1/analytics/latency", base - 3_600_000, {
      model: "gpt-4o-2024-08-06",
      percentile: "50",
    });
    const bucket = latency.series.find((b) => b.requests > 0)!;
    expect({ ttfb: bucket.ttfb_ms.p50, duration: bucket.duration_ms.p50 }).toEqual({ ttfb: 350, duration: 2_000 });
    const rows = await tm.store.query<{ n: number; sources: string[]; projects: string[] }>(
      "SELECT count() AS n, groupUniqArray(source) AS sources, groupUniqArray(project_id) AS projects FROM llm_usage WHERE org_id = {org:String}",
      { org },
    );
    expect(rows[0]).toMatchObject({ sources: ["otlp:gen_ai"], projects: ["proj-otel"] });
    expect(Number(rows[0]?.n)).toBe(expectedTotals().requests);
  });
});
