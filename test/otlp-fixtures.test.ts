import { readFileSync } from "node:fs";
import type { Store } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced, validateEvent } from "@tokenmeter/core";
import { issueToken } from "@tokenmeter/http";
import { type BatchWriter, createBatchWriter, createIngestRoutes } from "@tokenmeter/ingest";
import { DIALECTS, decodeJsonExport, encodeProtobufExport, mapSpan } from "@tokenmeter/otlp";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toProtobufShape } from "./support/otlp-export.js";
import { dropTestStore, openTestStore } from "./support/store.js";

// Issue 18: one recorded export per dialect (test/fixtures/otlp/<dialect>.json,
// written from each instrumentation's documented attribute names) and the
// usage events it must produce (<dialect>.expected.json, event ids computed
// outside this code base).
const dir = new URL("./fixtures/otlp/", import.meta.url);
const NOW = Date.parse("2026-11-20T11:00:00Z");
const secret = "f".repeat(32);

interface Expected {
  dialect: string;
  events: Record<string, string | number | boolean | null>[];
  skipped: Record<string, number>;
}
const fixture = (d: string) => readFileSync(new URL(`${d}.json`, dir), "utf8");
const expected = (d: string) => JSON.parse(readFileSync(new URL(`${d}.expected.json`, dir), "utf8")) as Expected;

describe("dialect fixtures: span → usage event", () => {
  it.each(DIALECTS)("%s", (dialect) => {
    const want = expected(dialect);
    const decoded = decodeJsonExport(fixture(dialect));
    expect(decoded.errors).toEqual([]);
    const events: Record<string, unknown>[] = [];
    const skipped: Record<string, number> = {};
    for (const span of decoded.spans) {
      const out = mapSpan(span);
      if (out.kind === "skip") {
        skipped[out.reason] = (skipped[out.reason] ?? 0) + 1;
        continue;
      }
      if (out.kind === "reject") throw new Error(`${span.name}: ${out.reason}`);
      expect(out.dialect).toBe(dialect);
      const v = validateEvent(out.input, { now: NOW, org_id: "org-fixture" });
      if (!v.ok) throw new Error(`${span.name}: ${JSON.stringify(v.errors)}`);
      const { event_time_ms, org_id, turn_id, message_id, call_sequence, proxy_overhead_ms, tags, ...rest } = v.event;
      events.push({ ...rest, event_time: new Date(event_time_ms).toISOString() });
    }
    expect(events).toEqual(want.events.map((e) => expect.objectContaining(e)));
    expect(events).toHaveLength(want.events.length);
    expect(skipped).toEqual(want.skipped);
  });
});

describe("dialect fixtures through POST /v1/traces (JSON and protobuf)", () => {
  let store: Store;
  let writer: BatchWriter;
  let app: ReturnType<typeof createIngestRoutes>;
  beforeAll(async () => {
    store = await openTestStore();
    writer = createBatchWriter({ store, logger: pino({ level: "silent" }), pricer: reportedOrUnpriced, policy: { maxDelayMs: 5 } });
    app = createIngestRoutes({ sink: writer, auth: { jwtSecret: secret }, logger: pino({ level: "silent" }), now: () => NOW });
  });
  afterAll(async () => {
    await writer.close();
    await dropTestStore(store);
  });

  it.each(DIALECTS)("%s: stored rows carry source otlp:<dialect>, a second send (other encoding) adds nothing", async (dialect) => {
    const org = `org-fix-${dialect}`;
    const headers = async (type: string) => ({ "content-type": type, authorization: `Bearer ${await issueToken(secret, org)}` });
    const json = await app.request("/v1/traces", { method: "POST", body: fixture(dialect), headers: await headers("application/json") });
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual({});
    const pb = encodeProtobufExport(toProtobufShape(JSON.parse(fixture(dialect))));
    const proto = await app.request("/v1/traces", {
      method: "POST",
      body: pb as BodyInit,
      headers: await headers("application/x-protobuf"),
    });
    expect(proto.status).toBe(200);
    const rows = await store.query<Record<string, unknown>>(
      `SELECT toString(event_id) AS event_id, toUnixTimestamp64Milli(event_time) AS ms, provider, model, operation, input_tokens, output_tokens,
         cached_input_tokens, cache_write_tokens, reasoning_tokens, ttfb_ms, duration_ms, status_code, error_code, source, cost_source
       FROM llm_usage WHERE org_id = {org:String} ORDER BY event_time`,
      { org },
    );
    const want = expected(dialect).events;
    expect(rows.map((r) => r.event_id)).toEqual(want.map((e) => e.event_id));
    for (const [i, r] of rows.entries()) {
      const e = want[i]!;
      expect(Number(r.ms)).toBe(Date.parse(String(e.event_time)));
      expect({ provider: r.provider, model: r.model, operation: r.operation, source: r.source }).toEqual({
        provider: e.provider,
        model: e.model,
        operation: e.operation,
        source: `otlp:${dialect}`,
      });
      for (const k of [
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "duration_ms",
        "status_code",
      ]) {
        expect(Number(r[k]), k).toBe(e[k]);
      }
      expect(r.ttfb_ms === null ? null : Number(r.ttfb_ms)).toBe(e.ttfb_ms);
      expect(r.error_code).toBe(e.error_code);
      expect(r.cost_source).toBe(e.cost_usd === null ? "unpriced" : "reported");
    }
  });
});
