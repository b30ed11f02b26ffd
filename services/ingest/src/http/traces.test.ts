import { randomBytes, randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { Store } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced } from "@tokenmeter/core";
import { issueToken } from "@tokenmeter/http";
import { decodeProtobufResponse, decodeProtobufStatus, encodeProtobufExport } from "@tokenmeter/otlp";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatSpan, otlpExport, otlpSpan, toProtobufShape } from "../../../../test/support/otlp-export.js";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import { TooManyRefusedError } from "../dedup/bisect.js";
import type { EventSink } from "../sink.js";
import { type BatchWriter, createBatchWriter } from "../writer/batch-writer.js";
import { createIngestRoutes } from "./routes.js";
import { createTraceRoutes } from "./traces.js";

const T = Date.now();
const secret = "t".repeat(32);
const logger = pino({ level: "silent" });
let store: Store;
let writer: BatchWriter;
let registry: Registry;
let app: ReturnType<typeof createIngestRoutes>;

beforeAll(async () => {
  store = await openTestStore();
  writer = createBatchWriter({ store, logger, pricer: reportedOrUnpriced, policy: { maxDelayMs: 5 } });
  registry = new Registry();
  app = createIngestRoutes({ sink: writer, auth: { jwtSecret: secret }, logger, registry, now: () => T });
});

afterAll(async () => {
  await writer.close();
  await dropTestStore(store);
});

const newOrg = () => `org_${randomUUID().slice(0, 8)}`;

async function post(
  org: string,
  body: Uint8Array | string,
  type: string,
  headers: Record<string, string> = {},
  target: { request: typeof app.request } = app,
) {
  return target.request("/v1/traces", {
    method: "POST",
    body: body as BodyInit,
    headers: { "content-type": type, authorization: `Bearer ${await issueToken(secret, org)}`, ...headers },
  });
}

const protobuf = (exp: ReturnType<typeof otlpExport>) => encodeProtobufExport(toProtobufShape(exp));
const bytes = async (res: Response) => new Uint8Array(await res.arrayBuffer());

async function stored(org: string): Promise<number> {
  const [row] = await store.query<{ n: number }>("SELECT count() AS n FROM llm_usage WHERE org_id = {org:String}", { org });
  return Number(row?.n);
}

describe("POST /v1/traces — answers per OTLP/HTTP", () => {
  it("an empty export is a 200 with an empty ExportTraceServiceResponse, in the request's encoding", async () => {
    const org = newOrg();
    const pb = await post(org, protobuf(otlpExport([])), "application/x-protobuf");
    expect(pb.status).toBe(200);
    expect(pb.headers.get("content-type")).toBe("application/x-protobuf");
    expect((await bytes(pb)).length).toBe(0);
    const js = await post(org, JSON.stringify({ resourceSpans: [] }), "application/json");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("application/json");
    expect(await js.json()).toEqual({});
  });

  it("401 without a credential, as a google.rpc.Status", async () => {
    const res = await app.request("/v1/traces", { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 16 });
  });

  it("415 for a content type OTLP/HTTP does not define", async () => {
    expect((await post(newOrg(), "x", "text/plain")).status).toBe(415);
  });
});

describe("POST /v1/traces — hostile input: no 5xx, nothing valid lost", () => {
  it("random bytes and truncated protobuf are 400 with a Status body", async () => {
    const org = newOrg();
    const random = await post(org, randomBytes(4096), "application/x-protobuf");
    expect(random.status).toBe(400);
    const status = decodeProtobufStatus(await bytes(random));
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/ExportTraceServiceRequest/);
    const whole = protobuf(otlpExport([chatSpan(T - 60_000), chatSpan(T - 50_000)]));
    const truncated = await post(org, whole.subarray(0, whole.length - 7), "application/x-protobuf");
    expect(truncated.status).toBe(400);
    expect(await stored(org)).toBe(0);
  });

  it("JSON that is not JSON, or has the wrong types in the envelope, is a 400; wrong types in one span reject that span only", async () => {
    const org = newOrg();
    expect((await post(org, "{not json", "application/json")).status).toBe(400);
    const envelope = await post(org, JSON.stringify({ resourceSpans: { spans: 1 } }), "application/json");
    expect(envelope.status).toBe(400);
    expect(((await envelope.json()) as { message: string }).message).toMatch(/resourceSpans must be an array/);
    const good = chatSpan(T - 60_000, 120, 30);
    const badTokens = chatSpan(T - 60_000);
    (badTokens.attributes.find((a) => a.key === "gen_ai.usage.input_tokens") as { value: unknown }).value = { intValue: "many" };
    const badId = { ...chatSpan(T - 60_000), traceId: 42 };
    const badTime = { ...chatSpan(T - 60_000), startTimeUnixNano: { nanos: 1 } };
    const intAsString = chatSpan(T - 60_000);
    (intAsString.attributes.find((a) => a.key === "gen_ai.usage.output_tokens") as { value: unknown }).value = { intValue: "45" };
    const res = await post(org, JSON.stringify(otlpExport([good, badTokens, badId, badTime, intAsString])), "application/json");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
    expect(body.partialSuccess.rejectedSpans).toBe(3);
    expect(body.partialSuccess.errorMessage).toMatch(/gen_ai.usage.input_tokens must be an integer/);
    expect(body.partialSuccess.errorMessage).toMatch(/traceId must be 16 bytes/);
    expect(body.partialSuccess.errorMessage).toMatch(/startTimeUnixNano must be an unsigned integer/);
    const rows = await store.query<{ output_tokens: number }>(
      "SELECT output_tokens FROM llm_usage WHERE org_id = {org:String} ORDER BY output_tokens",
      { org },
    );
    expect(rows.map((r) => Number(r.output_tokens))).toEqual([30, 45]);
  });

  it("a 10,000-span export with one bad span: 200, partialSuccess rejectedSpans 1, the other 9,999 stored", async () => {
    const org = newOrg();
    const spans: object[] = Array.from({ length: 10_000 }, (_, i) => chatSpan(T - 3_600_000 + i * 100, 10 + (i % 7), 5));
    spans[4_321] = chatSpan(T - 60_000, 10, 50, { "gen_ai.usage.reasoning.output_tokens": 80 });
    const res = await post(org, protobuf(otlpExport(spans)), "application/x-protobuf");
    expect(res.status).toBe(200);
    const answer = decodeProtobufResponse(await bytes(res));
    expect(answer.rejectedSpans).toBe(1);
    expect(answer.errorMessage).toMatch(/output_tokens must include reasoning_tokens/);
    expect(await stored(org)).toBe(9_999);
  });

  it("spans naming another org are refused one by one; the credential's org keeps the rest", async () => {
    const org = newOrg();
    const spans = [
      chatSpan(T - 60_000),
      chatSpan(T - 60_000, 1, 1, { "tokenmeter.org_id": "someone-else" }),
      chatSpan(T - 60_000, 2, 2, { "tokenmeter.org_id": org }),
    ];
    const res = await post(org, JSON.stringify(otlpExport(spans)), "application/json");
    const body = (await res.json()) as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
    expect(body.partialSuccess.rejectedSpans).toBe(1);
    expect(body.partialSuccess.errorMessage).toMatch(/org_id does not match the credential's org/);
    expect(await stored(org)).toBe(2);
    expect(await stored("someone-else")).toBe(0);
  });

  it("413 for a body over 64 MiB: plain, and a gzip bomb stopped at the limit while decompressing", async () => {
    const org = newOrg();
    const big = Buffer.alloc(64 * 1024 * 1024 + 1, 0x0a);
    const plain = await post(org, big, "application/x-protobuf");
    expect(plain.status).toBe(413);
    // The rest of the body stays unread: the connection cannot carry another request.
    expect(plain.headers.get("connection")).toBe("close");
    const bomb = gzipSync(Buffer.alloc(80 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const res = await post(org, bomb, "application/json", { "content-encoding": "gzip" });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { message: string }).message).toMatch(/after decompression/);
  });

  it("JSON bytes that are not UTF-8 are a 400, never decoded to U+FFFD", async () => {
    const text = JSON.stringify(otlpExport([chatSpan(T - 60_000, 1, 1, { "user.id": "u-XX" })]));
    const body = Buffer.from(text, "utf8");
    body[body.indexOf("u-XX") + 2] = 0xff;
    const res = await post(newOrg(), body, "application/json");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe("body is not valid UTF-8");
  });

  it("a broken gzip stream is a 400", async () => {
    const res = await post(newOrg(), Buffer.from("1f8b0800000000000003ffff", "hex"), "application/json", { "content-encoding": "gzip" });
    expect(res.status).toBe(400);
  });
});

describe("POST /v1/traces — backpressure and storage", () => {
  it("429 + Retry-After when too many exports are in progress; 503 + Retry-After when the sink fails", async () => {
    let release = () => {};
    const blocked = new Promise<void>((r) => {
      release = r;
    });
    const slow: EventSink = {
      write: async (e) => {
        await blocked;
        return { accepted: e.length, duplicates: 0 };
      },
    };
    const limited = createTraceRoutes({ sink: slow, auth: { jwtSecret: secret }, logger, maxConcurrent: 1, now: () => T });
    const org = newOrg();
    const body = JSON.stringify(otlpExport([chatSpan(T - 60_000)]));
    const first = post(org, body, "application/json", {}, limited);
    await new Promise((r) => setTimeout(r, 50));
    const second = await post(org, body, "application/json", {}, limited);
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toBe("1");
    release();
    expect((await first).status).toBe(200);

    const failing: EventSink = { write: async () => Promise.reject(new Error("broker down")) };
    const down = createTraceRoutes({ sink: failing, auth: { jwtSecret: secret }, logger, now: () => T });
    const res = await post(org, protobuf(otlpExport([chatSpan(T - 60_000)])), "application/x-protobuf", {}, down);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(decodeProtobufStatus(await bytes(res)).code).toBe(14);
  });

  it("429 + Retry-After while the exports in progress hold the in-flight byte budget; the budget comes back after", async () => {
    let release = () => {};
    const blocked = new Promise<void>((r) => {
      release = r;
    });
    const slow: EventSink = {
      write: async (e) => {
        await blocked;
        return { accepted: e.length, duplicates: 0 };
      },
    };
    const org = newOrg();
    const body = JSON.stringify(otlpExport(Array.from({ length: 20 }, () => chatSpan(T - 60_000))));
    const limited = createTraceRoutes({
      sink: slow,
      auth: { jwtSecret: secret },
      logger,
      maxInFlightBytes: body.length + 100,
      now: () => T,
    });
    const first = post(org, body, "application/json", {}, limited);
    await new Promise((r) => setTimeout(r, 50));
    const second = await post(org, body, "application/json", {}, limited);
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toBe("1");
    release();
    expect((await first).status).toBe(200);
    expect((await post(org, body, "application/json", {}, limited)).status).toBe(200);
  });

  it("a store error retrying cannot fix is a 500 (not retried by exporters); rows the store refuses are rejected spans", async () => {
    const org = newOrg();
    const body = protobuf(otlpExport([chatSpan(T - 60_000), chatSpan(T - 50_000)]));
    const hopeless: EventSink = { write: async () => Promise.reject(new TooManyRefusedError("a bad statement")) };
    const broken = createTraceRoutes({ sink: hopeless, auth: { jwtSecret: secret }, logger, now: () => T });
    const res = await post(org, body, "application/x-protobuf", {}, broken);
    expect(res.status).toBe(500);
    expect(res.headers.get("retry-after")).toBeNull();
    expect(decodeProtobufStatus(await bytes(res)).code).toBe(13);

    const picky: EventSink = {
      write: async (e) => ({
        accepted: e.length - 1,
        duplicates: 0,
        refused: [{ index: 1, reason: "Cannot parse input: column session_id" }],
      }),
    };
    const refusing = createTraceRoutes({ sink: picky, auth: { jwtSecret: secret }, logger, now: () => T });
    const answer = decodeProtobufResponse(await bytes(await post(org, body, "application/x-protobuf", {}, refusing)));
    expect(answer.rejectedSpans).toBe(1);
    expect(answer.errorMessage).toMatch(/^span [0-9a-f]{16} \(gen_ai\): refused by the store: Cannot parse input: column session_id$/);
  });

  it("counts spans received, mapped, skipped by reason and rejected, per dialect", async () => {
    const org = newOrg();
    const spans = [
      chatSpan(T - 60_000),
      otlpSpan("execute_tool search", T - 60_000, 5, { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search" }),
      otlpSpan("GET /", T - 60_000, 5, { "http.request.method": "GET" }),
      otlpSpan("ai.generateText", T - 60_000, 5, { "ai.operationId": "ai.generateText", "ai.usage.promptTokens": 5 }),
    ];
    const value = async (name: string, labels: Record<string, string>) =>
      (await registry.getSingleMetric(name)?.get())?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
        ?.value ?? 0;
    const before = {
      mapped: await value("tokenmeter_otlp_spans_mapped_total", { dialect: "gen_ai" }),
      tool: await value("tokenmeter_otlp_spans_skipped_total", { dialect: "gen_ai", reason: "tool_call" }),
      http: await value("tokenmeter_otlp_spans_skipped_total", { dialect: "none", reason: "not_genai" }),
      vercel: await value("tokenmeter_otlp_spans_skipped_total", { dialect: "vercel-ai", reason: "wrapper" }),
    };
    expect((await post(org, JSON.stringify(otlpExport(spans)), "application/json")).status).toBe(200);
    expect(await value("tokenmeter_otlp_spans_mapped_total", { dialect: "gen_ai" })).toBe(before.mapped + 1);
    expect(await value("tokenmeter_otlp_spans_skipped_total", { dialect: "gen_ai", reason: "tool_call" })).toBe(before.tool + 1);
    expect(await value("tokenmeter_otlp_spans_skipped_total", { dialect: "none", reason: "not_genai" })).toBe(before.http + 1);
    expect(await value("tokenmeter_otlp_spans_skipped_total", { dialect: "vercel-ai", reason: "wrapper" })).toBe(before.vercel + 1);
    expect(await stored(org)).toBe(1);
  });
});
