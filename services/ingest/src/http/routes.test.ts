import { randomUUID } from "node:crypto";
import { type Store, StoreError, storeErrorFromCode } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced } from "@tokenmeter/core";
import { issueToken } from "@tokenmeter/http";
import { sign } from "hono/jwt";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import type { EventSink } from "../sink.js";
import { type BatchWriter, createBatchWriter } from "../writer/batch-writer.js";
import { createIngestRoutes } from "./routes.js";

const T = Date.parse("2026-06-01T12:00:00Z");
const secret = "s".repeat(32);
const logger = pino({ level: "silent" });
let store: Store;
let writer: BatchWriter;
let app: ReturnType<typeof createIngestRoutes>;

beforeAll(async () => {
  store = await openTestStore();
  writer = createBatchWriter({ store, logger, pricer: reportedOrUnpriced, policy: { maxDelayMs: 5 } });
  app = createIngestRoutes({ sink: writer, auth: { jwtSecret: secret }, logger, now: () => T });
});

afterAll(async () => {
  await writer.close();
  await dropTestStore(store);
});

/** Every test posts as its own org, so stored counts never mix. */
function newOrg(): string {
  return `org_${randomUUID().slice(0, 8)}`;
}

function event(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: randomUUID(),
    event_time: "2026-06-01T11:59:00Z",
    provider: "anthropic",
    model: "claude-sonnet-4",
    input_tokens: 1_000,
    output_tokens: 200,
    status_code: 200,
    ...extra,
  };
}

async function post(org: string | null, body: string, headers: Record<string, string> = {}, target = app) {
  const auth: Record<string, string> = org ? { authorization: `Bearer ${await issueToken(secret, org)}` } : {};
  return target.request("/v1/events", { method: "POST", body, headers: { "content-type": "application/json", ...auth, ...headers } });
}

async function stored(org: string): Promise<{ raw: number; daily: number }> {
  const [raw] = await store.query<{ n: number }>("SELECT count() AS n FROM llm_usage WHERE org_id = {org:String}", { org });
  const [daily] = await store.query<{ n: number }>("SELECT sum(requests) AS n FROM llm_usage_daily WHERE org_id = {org:String}", { org });
  return { raw: Number(raw?.n), daily: Number(daily?.n) };
}

describe("POST /v1/events — accepted", () => {
  it("stores a JSON array and answers only once it is durable", async () => {
    const org = newOrg();
    const res = await post(org, JSON.stringify([event(), event(), event({ cost_usd: 0.5 })]));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    expect(await stored(org)).toEqual({ raw: 3, daily: 3 });
    const [row] = await store.query<{ n: number; cost: number }>(
      "SELECT countIf(cost_source = 'reported') AS n, sum(cost_usd) AS cost FROM llm_usage WHERE org_id = {org:String}",
      { org },
    );
    expect(row).toEqual({ n: 1, cost: 0.5 });
  });

  it("accepts a single object", async () => {
    const org = newOrg();
    const res = await post(org, JSON.stringify(event({ org_id: org })));
    expect(await res.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  });

  it("accepts NDJSON by content type, and detects it without", async () => {
    const org = newOrg();
    const ndjson = `${JSON.stringify(event())}\n\n${JSON.stringify(event())}\r\n${JSON.stringify(event())}\n`;
    const res = await post(org, ndjson, { "content-type": "application/x-ndjson" });
    expect(await res.json()).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    const detected = await post(org, `${JSON.stringify(event())}\n${JSON.stringify(event())}`, { "content-type": "text/plain" });
    expect(await detected.json()).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    expect((await stored(org)).raw).toBe(5);
  });

  it("counts a re-sent event once, within and across requests", async () => {
    const org = newOrg();
    const a = event();
    const b = event();
    const first = await post(org, JSON.stringify([a, b, a]));
    expect(await first.json()).toEqual({ accepted: 2, duplicates: 1, rejected: [] });
    const again = await post(org, JSON.stringify([a, b, event()]));
    expect(await again.json()).toEqual({ accepted: 1, duplicates: 2, rejected: [] });
    expect(await stored(org)).toEqual({ raw: 3, daily: 3 });
  });

  it("counts events once when the same request is sent twice at the same time", async () => {
    const org = newOrg();
    const body = JSON.stringify([event(), event(), event(), event()]);
    const answers = await Promise.all([post(org, body), post(org, body)]);
    const [a, b] = (await Promise.all(answers.map((r) => r.json()))) as Array<{ accepted: number; duplicates: number }>;
    expect(a!.accepted + b!.accepted).toBe(4);
    expect(a!.duplicates + b!.duplicates).toBe(4);
    expect(await stored(org)).toEqual({ raw: 4, daily: 4 });
  });
});

describe("POST /v1/events — rejected items", () => {
  it("rejects invalid items by index with field paths and stores the valid ones", async () => {
    const org = newOrg();
    const body = [event(), event({ input_tokens: -1, tags: { team: 7 } }), event(), { hello: "world" }, event({ status_code: "200" })];
    const res = await post(org, JSON.stringify(body));
    expect(res.status).toBe(200);
    const json = (await res.json()) as { accepted: number; rejected: Array<{ index: number; errors: Array<{ path: string }> }> };
    expect(json.accepted).toBe(2);
    expect(json.rejected.map((r) => r.index)).toEqual([1, 3, 4]);
    expect(json.rejected[0]?.errors.map((e) => e.path).sort()).toEqual(["input_tokens", "tags.team"]);
    expect(json.rejected[1]?.errors.map((e) => e.path)).toContain("event_id");
    expect(json.rejected[2]?.errors).toEqual([{ path: "status_code", message: expect.any(String) }]);
    expect((await stored(org)).raw).toBe(2);
  });

  it("refuses an event of another org and still stores the valid ones of the request", async () => {
    const org = newOrg();
    const res = await post(org, JSON.stringify([event(), event({ org_id: "someone_else" }), event({ org_id: org })]));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      accepted: 2,
      duplicates: 0,
      rejected: [{ index: 1, errors: [{ path: "org_id", message: "does not match the credential's org" }] }],
    });
    expect((await stored(org)).raw).toBe(2);
    expect((await stored("someone_else")).raw).toBe(0);
  });

  it("rejects only the NDJSON line that is not JSON, by index and line", async () => {
    const org = newOrg();
    const res = await post(org, `${JSON.stringify(event())}\n{"event_id": oops}\n${JSON.stringify(event())}\n`, {
      "content-type": "application/x-ndjson",
    });
    expect(res.status).toBe(200);
    const json = (await res.json()) as {
      accepted: number;
      rejected: Array<{ index: number; errors: Array<{ path: string; message: string }> }>;
    };
    expect(json.accepted).toBe(2);
    expect(json.rejected).toHaveLength(1);
    expect(json.rejected[0]?.index).toBe(1);
    expect(json.rejected[0]?.errors[0]?.message).toMatch(/^line 2: malformed JSON at column 14:/);
  });

  it("answers 400 with the reasons when no item is valid", async () => {
    const res = await post(newOrg(), JSON.stringify([{ model: "x" }]));
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: { code: string; details: { rejected: Array<{ index: number }> } } };
    expect(json.error.code).toBe("invalid_events");
    expect(json.error.details.rejected[0]?.index).toBe(0);
  });
});

describe("POST /v1/events — malformed or oversized requests", () => {
  it("answers 400 for malformed JSON, saying where", async () => {
    const res = await post(newOrg(), '[\n  {"event_id": "x",\n   "model": }\n]');
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: { code: string; message: string; details: { line: number; column: number } } };
    expect(json.error.code).toBe("invalid_json");
    expect(json.error.details).toMatchObject({ line: 3, column: 13 });
    expect(json.error.message).toContain("line 3 column 13");
  });

  it("answers 400 for a body that is not events, or empty", async () => {
    expect((await post(newOrg(), "42")).status).toBe(400);
    expect((await post(newOrg(), "[]")).status).toBe(400);
    expect((await post(newOrg(), "")).status).toBe(400);
  });

  it("answers 413 for 1,001 events and stores none of them", async () => {
    const org = newOrg();
    const res = await post(org, JSON.stringify(Array.from({ length: 1_001 }, () => event())));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
    expect((await stored(org)).raw).toBe(0);
    const ok = await post(org, JSON.stringify(Array.from({ length: 1_000 }, () => event())));
    expect(((await ok.json()) as { accepted: number }).accepted).toBe(1_000);
  });

  it("answers 413 for more than 5 MB, by Content-Length or by bytes read", async () => {
    const big = JSON.stringify([event({ tags: { pad: "x".repeat(200) } })]).padEnd(5 * 1024 * 1024 + 1, " ");
    const declared = await post(newOrg(), big, { "content-length": String(big.length) });
    expect(declared.status).toBe(413);
    // Chunked, no Content-Length: cut off while reading.
    const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Bounded: stops by itself at 8 MB if the server kept reading.
        if (sent >= 8 * 1024 * 1024) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const token = await issueToken(secret, newOrg());
    const streamed = await app.request("/v1/events", {
      method: "POST",
      body: stream,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(sent).toBeLessThan(6 * 1024 * 1024);
  });
});

describe("POST /v1/events — auth and storage failures", () => {
  it("answers 401 for a missing, invalid or expired token", async () => {
    expect((await post(null, JSON.stringify([event()]))).status).toBe(401);
    expect((await post(null, JSON.stringify([event()]), { authorization: "Bearer not.a.jwt" })).status).toBe(401);
    const wrongKey = await issueToken("x".repeat(32), "acme");
    expect((await post(null, "[]", { authorization: `Bearer ${wrongKey}` })).status).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    const expired = await sign({ org_id: "acme", iat: now - 120, exp: now - 60 }, secret, "HS256");
    const res = await post(null, JSON.stringify([event()]), { authorization: `Bearer ${expired}` });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe("token expired");
  });

  it("answers 503 when the sink cannot make the events durable", async () => {
    const failing: EventSink = { write: () => Promise.reject(new Error("broker down")) };
    const failingApp = createIngestRoutes({ sink: failing, auth: { jwtSecret: secret }, logger, now: () => T });
    const res = await post(newOrg(), JSON.stringify([event()]), {}, failingApp);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unavailable");
  });

  it("answers 503 retryable only when retrying can help; a store error that repeats is a 500, not retryable", async () => {
    const cases: Array<[Error, number, boolean]> = [
      [storeErrorFromCode(210, "network"), 503, true],
      [new StoreError("unavailable", "closed", false), 503, true],
      [storeErrorFromCode(60, "unknown table"), 500, false],
    ];
    for (const [err, status, retryable] of cases) {
      const failingApp = createIngestRoutes({
        sink: { write: () => Promise.reject(err) },
        auth: { jwtSecret: secret },
        logger,
        now: () => T,
      });
      const res = await post(newOrg(), JSON.stringify([event()]), {}, failingApp);
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: { details: { retryable: boolean } } }).error.details.retryable).toBe(retryable);
    }
  });
});
