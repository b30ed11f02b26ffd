/**
 * A seeded fuzz run over a real HTTP server (the query app with HTTP ingest
 * mounted, as in the all-in-one; the real engine and batching writer):
 * - POST /v1/events: JSON arrays, NDJSON, mutations of valid events (unicode
 *   edge cases, lone surrogates, huge and odd numbers, deep nesting, odd
 *   keys), garbage bytes, chunked bodies over the limit;
 * - every analytics endpoint with fuzzed query parameters.
 * Asserts: never a 5xx, never a dropped connection (every request answered on
 * a keep-alive pool), and accepted = stored (raw and daily rollup, each
 * event_id once). Bounded in count and in time; the seed is printed, and a
 * failure names the request that caused it.
 */
import { Agent, request } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Store } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced } from "@tokenmeter/core";
import { issueToken } from "@tokenmeter/http";
import { createQueryApp, MemoryResultCache } from "@tokenmeter/query";
import { Hono } from "hono";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createIngestRoutes, HTTP_INGEST_LIMITS } from "../services/ingest/src/http/routes.js";
import { type BatchWriter, createBatchWriter } from "../services/ingest/src/writer/batch-writer.js";
import { dropTestStore, openTestStore } from "./support/store.js";

const SEED = 0x14_2026;
const INGEST_REQUESTS = 220;
const QUERY_REQUESTS = 260;
const TIME_BUDGET_MS = 60_000;
const ORG = "fuzz-org";
const ENDPOINTS = ["usage", "latency", "models", "errors", "agents", "users", "summary"];
const secret = "f".repeat(32);

let store: Store;
let writer: BatchWriter;
let server: ReturnType<typeof serve>;
let port = 0;
let token = "";
const agent = new Agent({ keepAlive: true, maxSockets: 2 });

beforeAll(async () => {
  store = await openTestStore();
  const logger = pino({ level: "silent" });
  writer = createBatchWriter({ store, logger, pricer: reportedOrUnpriced, policy: { maxDelayMs: 20 } });
  const auth = { jwtSecret: secret };
  const app = createQueryApp({
    store,
    cache: new MemoryResultCache(),
    auth,
    logger,
    registry: new Registry(),
    mount: [new Hono().route("/", createIngestRoutes({ sink: writer, auth, logger }))],
  });
  server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((r) => server.once("listening", () => r()));
  port = (server.address() as AddressInfo).port;
  token = await issueToken(secret, ORG);
});

afterAll(async () => {
  agent.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  await writer.close();
  await dropTestStore(store);
});

/** mulberry32: small, fast, good enough to pick inputs, and reproducible from the seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! };
}
type Rng = ReturnType<typeof rng>;

const STRINGS = [
  "",
  "plain",
  "\ud800",
  "a\udc00b",
  "\ud83d",
  "😀",
  "\ud83d\ude00\u200d\ud83d\udc69",
  "\u0000",
  "\ufeff\uffff",
  "\u202e-rtl",
  "x".repeat(256),
  "y".repeat(257),
  "tab\tnew\nline\\back",
  "'; DROP TABLE llm_usage; --",
  "__proto__",
  '{"nested":1}',
];
const NUMBERS = [0, -0, -1, 1.5, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, 5e-324, 86_400_001, 599, 600, 99, 1e21];

function deep(depth: number, leaf: unknown): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

function validEvent(r: Rng): Record<string, unknown> {
  return {
    event_id: randomUUIDFrom(r),
    event_time: new Date(Date.now() - 60_000 - r.int(3_600_000)).toISOString(),
    provider: r.pick(["openai", "Anthropic", "google"]),
    model: r.pick(["gpt-4o", "claude-sonnet-4", "gemini-2.5-pro"]),
    input_tokens: r.int(10_000),
    output_tokens: r.int(2_000),
    status_code: r.pick([200, 200, 429, 500]),
    agent_id: r.pick(["a", "b", "😀-bot"]),
    tags: { team: r.pick(["x", "y"]) },
  };
}

/** UUIDs from the seeded stream, so a run is reproducible end to end. */
function randomUUIDFrom(r: Rng): string {
  const hex = Array.from({ length: 32 }, () => r.int(16).toString(16)).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const FIELDS = [
  "event_id",
  "event_time",
  "org_id",
  "provider",
  "model",
  "session_id",
  "agent_id",
  "error_code",
  "input_tokens",
  "output_tokens",
  "cached_input_tokens",
  "cost_usd",
  "duration_ms",
  "status_code",
  "streaming",
  "operation",
  "tags",
  "__proto__",
  "constructor",
];

function mutate(r: Rng, e: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...e };
  for (let n = 1 + r.int(3); n > 0; n--) {
    const field = r.pick(FIELDS);
    const kind = r.int(8);
    const value =
      kind === 0
        ? r.pick(STRINGS)
        : kind === 1
          ? r.pick(NUMBERS)
          : kind === 2
            ? deep(1 + r.int(2_000), r.pick(STRINGS))
            : kind === 3
              ? { [r.pick(STRINGS)]: r.pick(STRINGS), "tag\ud800": "v", __proto__x: "y" }
              : kind === 4
                ? null
                : kind === 5
                  ? [r.pick(STRINGS)]
                  : kind === 6
                    ? undefined
                    : r.next() < 0.5;
    Object.defineProperty(out, field, { value, enumerable: true, configurable: true, writable: true });
  }
  return out;
}

interface Body {
  what: string;
  body: string | Buffer | { chunkedBytes: number };
  contentType: string;
}

function ingestBody(r: Rng): Body {
  const k = 1 + r.int(40);
  const events = () => Array.from({ length: k }, () => (r.next() < 0.6 ? validEvent(r) : mutate(r, validEvent(r))));
  switch (r.int(9)) {
    case 0:
      return {
        what: "ndjson",
        body: events()
          .map((e) => JSON.stringify(e))
          .join("\n"),
        contentType: "application/x-ndjson",
      };
    case 1: {
      const lines = events().map((e) => (r.next() < 0.2 ? `${JSON.stringify(e).slice(0, 10)}` : JSON.stringify(e)));
      return { what: "ndjson with broken lines", body: lines.join("\r\n"), contentType: "application/x-ndjson" };
    }
    case 2:
      return {
        what: "deep nesting",
        body: r.pick([
          "[".repeat(50_000),
          `[${"[".repeat(20_000)}${"]".repeat(20_000)}]`,
          `${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`,
        ]),
        contentType: "application/json",
      };
    case 3:
      return {
        what: "garbage bytes",
        body: Buffer.from(Array.from({ length: 1 + r.int(2_000) }, () => r.int(256))),
        contentType: r.pick(["application/json", "", "text/plain"]),
      };
    case 4:
      return {
        what: "scalar or empty",
        body: r.pick(["", "null", "1e999", '"x"', "[]", "{}", "[null]", "[[]]", "\ufeff[]"]),
        contentType: "application/json",
      };
    case 5:
      return {
        what: "too many events",
        body: JSON.stringify(Array.from({ length: HTTP_INGEST_LIMITS.maxEvents + 1 }, () => ({}))),
        contentType: "application/json",
      };
    default:
      return {
        what: "json array",
        body: JSON.stringify(events()),
        contentType: r.pick(["application/json", "application/json; charset=utf-8", ""]),
      };
  }
}

interface Answer {
  status: number;
  body: string;
}

/** One request on the keep-alive pool; a dropped connection or no answer in 20 s rejects. */
function send(method: string, path: string, b?: Body): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (b?.contentType) headers["content-type"] = b.contentType;
    const req = request({ host: "127.0.0.1", port, method, path, agent, headers, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    let answered = false;
    req.on("response", () => {
      answered = true;
    });
    req.on("timeout", () => req.destroy(new Error("no answer in 20 s")));
    req.on("error", (err) => {
      // A server that answered and then closed (413 with Connection: close) may cut our remaining writes.
      if (!answered) reject(err);
    });
    if (!b) return void req.end();
    if (typeof b.body === "string" || Buffer.isBuffer(b.body)) return void req.end(b.body);
    const total = b.body.chunkedBytes;
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < total && !answered && !req.destroyed) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (!answered && !req.destroyed) req.end();
    };
    req.write("[");
    pump();
  });
}

const PARAM_KEYS = [
  "start",
  "end",
  "granularity",
  "tz",
  "format",
  "group_by",
  "percentile",
  "limit",
  "error_code",
  "model",
  "provider",
  "agent_id",
  "project_id",
  "user_id",
  "org_id",
  "__proto__",
  "constructor",
  "hasOwnProperty",
  "tag.team",
  "",
];
const INSTANTS = [
  "2026-01-01T00:00:00Z",
  "0000-01-01T00:00:00Z",
  "0000-01-02T00:00:00Z",
  "1969-12-31T23:59:59Z",
  "1970-01-01T00:00:00Z",
  "2099-12-31T00:00:00Z",
  "9999-12-31T23:59:59Z",
  "+275760-09-13T00:00:00Z",
  "-000001-01-01T00:00:00Z",
  "2026-02-30T00:00:00Z",
  "2026-03-08T02:30:00-05:00",
  "yesterday",
  "",
];

const RANGE_EDGES = [
  "0000-01-01T00:00:00Z",
  "1969-12-25T00:00:00Z",
  "1970-01-01T00:00:00Z",
  "2099-12-31T00:00:00Z",
  "9999-12-25T00:00:00Z",
];

function queryPath(r: Rng): string {
  const endpoint = r.pick(ENDPOINTS);
  const parts: string[] = [];
  const now = Date.now();
  // A coherent range at an edge of what the engine's time types hold (year 0, 1970, 2100, 9999).
  if (r.next() < 0.3) {
    const base = Date.parse(r.pick(RANGE_EDGES));
    const span = r.pick([3_600_000, 86_400_000, 7 * 86_400_000]);
    parts.push(
      `start=${encodeURIComponent(new Date(base).toISOString())}`,
      `end=${encodeURIComponent(new Date(base + span).toISOString())}`,
    );
  }
  for (let n = r.int(5); n > 0; n--) {
    const key = r.pick(PARAM_KEYS);
    const value =
      key === "start" || key === "end"
        ? r.next() < 0.5
          ? r.pick(INSTANTS)
          : new Date(now - r.int(400) * 86_400_000).toISOString()
        : r.pick([
            "day",
            "hour",
            "week",
            "month",
            "minute",
            "UTC",
            "Europe/Berlin",
            "Mars/Olympus",
            "csv",
            "json",
            "model",
            "org_id",
            "50",
            "95",
            "0",
            "1000",
            "1001",
            "99999999999999999999",
            "-1",
            "%ED%A0%80",
            "%00",
            "%",
            "%F0%9F%98%80",
            "x".repeat(300),
            "gpt-4o",
          ]);
    const raw = value.startsWith("%") ? value : encodeURIComponent(value);
    parts.push(`${key === "" ? "" : encodeURIComponent(key)}=${raw}`);
  }
  return `/v1/analytics/${endpoint}${parts.length > 0 ? `?${parts.join("&")}` : ""}`;
}

it(`never answers 5xx, never drops a connection, and stores exactly what it accepted (seed ${SEED})`, { timeout: 180_000 }, async () => {
  const r = rng(SEED);
  const deadline = Date.now() + TIME_BUDGET_MS;
  const failures: string[] = [];
  let accepted = 0;
  let duplicates = 0;
  let ran = 0;
  const statuses = new Map<number, number>();
  const note = (a: Answer) => statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);

  // Valid events re-sent now and then: duplicates must not count twice.
  const resend: Record<string, unknown>[] = [];
  async function ingestOne(i: number): Promise<void> {
    const b: Body =
      i % 100 === 50
        ? {
            what: "chunked over the limit",
            body: { chunkedBytes: HTTP_INGEST_LIMITS.maxBytes + 512 * 1024 },
            contentType: "application/json",
          }
        : i % 17 === 0 && resend.length > 0
          ? { what: "re-send", body: JSON.stringify(resend.splice(0, 5)), contentType: "application/json" }
          : ingestBody(r);
    const what = typeof b.body === "string" ? b.body.slice(0, 200) : Buffer.isBuffer(b.body) ? `${b.body.length} bytes` : "chunked";
    try {
      const a = await send("POST", "/v1/events", b);
      note(a);
      if (a.status >= 500) failures.push(`POST ${b.what} → ${a.status} ${a.body.slice(0, 300)} :: ${what}`);
      if (a.status === 200) {
        const res = JSON.parse(a.body) as { accepted: number; duplicates: number };
        accepted += res.accepted;
        duplicates += res.duplicates;
        if (b.what === "json array" && typeof b.body === "string") {
          for (const e of JSON.parse(b.body) as Record<string, unknown>[]) if (r.next() < 0.05) resend.push(e);
        }
      }
    } catch (err) {
      failures.push(`POST ${b.what} → connection: ${(err as Error).message} :: ${what}`);
    }
  }
  async function queryOne(): Promise<void> {
    const path = queryPath(r);
    try {
      const a = await send("GET", path);
      note(a);
      if (a.status >= 500) failures.push(`GET ${path} → ${a.status} ${a.body.slice(0, 300)}`);
    } catch (err) {
      failures.push(`GET ${path} → connection: ${(err as Error).message}`);
    }
  }
  // Interleaved, so a slow (loaded) machine that hits the time budget still covered both.
  let queries = 0;
  for (let i = 0; (i < INGEST_REQUESTS || queries < QUERY_REQUESTS) && Date.now() < deadline; i++) {
    if (i < INGEST_REQUESTS) {
      await ingestOne(i);
      ran++;
    }
    for (let q = 0; q < 2 && queries < QUERY_REQUESTS && (q === 0 || queries * INGEST_REQUESTS < i * QUERY_REQUESTS); q++, queries++) {
      await queryOne();
      ran++;
    }
  }
  await writer.flush();
  process.stderr.write(
    `fuzz seed ${SEED}: ${ran} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}, accepted ${accepted}, duplicates ${duplicates}\n`,
  );
  expect(failures).toEqual([]);

  // accepted = stored: in raw (each event_id once) and in the daily rollup.
  const [raw] = await store.query<{ n: number; ids: number }>(
    "SELECT count() AS n, uniqExact(event_id) AS ids FROM llm_usage WHERE org_id = {org:String}",
    { org: ORG },
  );
  const [daily] = await store.query<{ n: number }>("SELECT sum(requests) AS n FROM llm_usage_daily WHERE org_id = {org:String}", {
    org: ORG,
  });
  expect({ raw: Number(raw!.n), ids: Number(raw!.ids), daily: Number(daily!.n) }).toEqual({
    raw: accepted,
    ids: accepted,
    daily: accepted,
  });
  expect(accepted).toBeGreaterThan(0);
  expect(duplicates).toBeGreaterThan(0);
});
