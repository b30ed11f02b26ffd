/**
 * One bad event must never block anyone else's (issue #14), on the HTTP path:
 * the real route, the real batching writer and the real engine (chDB), two
 * orgs whose requests share one flush.
 * - a lone UTF-16 surrogate is rejected by validation, by index, naming the field;
 * - a row that passes validation but the engine refuses (a real data error,
 *   made by the FaultyStore's refuse marker) splits the flush: that row is
 *   rejected by index, every other row of both orgs is stored exactly once,
 *   in raw and in the rollups, and nobody gets a 5xx.
 */
import { randomUUID } from "node:crypto";
import type { Store } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced } from "@tokenmeter/core";
import { issueToken } from "@tokenmeter/http";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FaultyStore } from "../services/ingest/src/fault-store.js";
import { createIngestRoutes } from "../services/ingest/src/http/routes.js";
import { type BatchWriter, createBatchWriter } from "../services/ingest/src/writer/batch-writer.js";
import { dropTestStore, openTestStore } from "./support/store.js";

const MARKER = "refuse-me-7f3a";
const secret = "p".repeat(32);
const logger = pino({ level: "silent" });
let store: Store;
let writer: BatchWriter;
let app: ReturnType<typeof createIngestRoutes>;

beforeAll(async () => {
  store = await openTestStore();
  const refusing = new FaultyStore(store, { failRate: 0, timeoutRate: 0, maxDelayMs: 0, refuseMarker: MARKER });
  // A long enough delay that the two orgs' concurrent requests share one flush.
  writer = createBatchWriter({ store: refusing, logger, pricer: reportedOrUnpriced, policy: { maxDelayMs: 300, idleMs: 300 } });
  app = createIngestRoutes({ sink: writer, auth: { jwtSecret: secret }, logger });
});

afterAll(async () => {
  await writer.close();
  await dropTestStore(store);
});

function events(n: number): Array<Record<string, unknown>> {
  const t = new Date(Date.now() - 60_000).toISOString();
  return Array.from({ length: n }, (_, i) => ({
    event_id: randomUUID(),
    event_time: t,
    provider: "openai",
    model: "gpt-4o",
    agent_id: `agent-${i % 7}`,
    session_id: `s-${i}`,
    input_tokens: 100 + i,
    output_tokens: 10,
    status_code: 200,
  }));
}

async function post(org: string, body: unknown[]) {
  const res = await app.request("/v1/events", {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json", authorization: `Bearer ${await issueToken(secret, org)}` },
  });
  return { status: res.status, body: (await res.json()) as { accepted: number; duplicates: number; rejected: unknown[] } };
}

/** Rows, distinct event_ids and input tokens per org in raw, and the same sums in the daily and hourly rollups. */
async function stored(org: string) {
  const q = async (sql: string) => (await store.query<Record<string, number>>(sql, { org }))[0]!;
  const raw = await q(
    "SELECT count() AS n, uniqExact(event_id) AS ids, sum(input_tokens) AS tokens FROM llm_usage WHERE org_id = {org:String}",
  );
  const daily = await q("SELECT sum(requests) AS n, sum(input_tokens) AS tokens FROM llm_usage_daily WHERE org_id = {org:String}");
  const hourly = await q("SELECT sum(requests) AS n FROM llm_usage_hourly WHERE org_id = {org:String}");
  return {
    n: Number(raw.n),
    ids: Number(raw.ids),
    tokens: Number(raw.tokens),
    daily: Number(daily.n),
    dailyTokens: Number(daily.tokens),
    hourly: Number(hourly.n),
  };
}

function expectStoredOnce(got: Awaited<ReturnType<typeof stored>>, sent: Array<Record<string, unknown>>) {
  const tokens = sent.reduce((n, e) => n + (e.input_tokens as number), 0);
  expect(got).toEqual({ n: sent.length, ids: sent.length, tokens, daily: sent.length, dailyTokens: tokens, hourly: sent.length });
}

async function scenario(bad: Record<string, unknown>, badIndex: number) {
  const P = `org_p_${randomUUID().slice(0, 8)}`;
  const V = `org_v_${randomUUID().slice(0, 8)}`;
  // 999 valid events of P (500) and V (499) around one bad event of P; V also sends a second, concurrent request.
  const p = events(501);
  p[badIndex] = { ...p[badIndex], ...bad };
  const v1 = events(499);
  const v2 = events(200);
  const [rp, rv1, rv2] = await Promise.all([post(P, p), post(V, v1), post(V, v2)]);
  const validP = p.filter((_, i) => i !== badIndex);
  expect([rp.status, rv1.status, rv2.status]).toEqual([200, 200, 200]);
  expect(rp.body.accepted).toBe(500);
  expect(rv1.body).toEqual({ accepted: 499, duplicates: 0, rejected: [] });
  expect(rv2.body).toEqual({ accepted: 200, duplicates: 0, rejected: [] });
  expectStoredOnce(await stored(P), validP);
  expectStoredOnce(await stored(V), [...v1, ...v2]);
  return rp.body.rejected;
}

it("rejects a lone surrogate by index, naming the field; every valid event of both orgs is stored once", async () => {
  const rejected = await scenario({ session_id: "\ud800" }, 137);
  expect(rejected).toEqual([{ index: 137, errors: [{ path: "session_id", message: expect.stringMatching(/well-formed Unicode/) }] }]);
});

it("splits a flush around a row the engine refuses: that row rejected by index, the rest of both orgs stored once", async () => {
  const rejected = await scenario({ agent_id: MARKER }, 311);
  expect(rejected).toEqual([
    // The engine's own reason, as on Kafka (both insert TSV lines; a TSV parse error names no column, so the path is
    // the whole event). Validation refuses what the engine would, so this is defence in depth, not a user's path.
    { index: 311, errors: [{ path: "(event)", message: expect.stringMatching(/^refused by the store: Code: 27\./) }] },
  ]);
});

it("a request whose only event the engine refuses still gets 200 with it rejected, never a retryable 503", async () => {
  const org = `org_${randomUUID().slice(0, 8)}`;
  const [bad] = events(1);
  const res = await post(org, [{ ...bad, agent_id: MARKER }]);
  expect(res.status).toBe(200);
  expect(res.body.accepted).toBe(0);
  expect(res.body.rejected).toHaveLength(1);
  expect((await stored(org)).n).toBe(0);
});
