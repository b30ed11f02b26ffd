import { randomUUID } from "node:crypto";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { issueToken } from "@tokenmeter/http";
import { Redis } from "ioredis";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import { createQueryApp } from "../app.js";
import { MemoryResultCache } from "../cache.js";
import { testEvent } from "../testing/events.js";
import { insertEvents, JWT_SECRET } from "../testing/fixture.js";
import { eventually, type Receiver, startReceiver } from "../testing/receiver.js";
import { dropQueues } from "../testing/redis.js";
import type { DeliveryPolicy } from "./deliver.js";
import { type AlertJobs, startAlertJobs } from "./jobs.js";
import { verifySignature } from "./notify.js";

const REDIS_URL = process.env.TOKENMETER_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const logger = pino({ level: "silent" });
// Short retry delays so the retry schedule runs in milliseconds; the schedule itself is unit-tested.
const POLICY: DeliveryPolicy = { allowPrivate: true, timeoutMs: 2_000, retryBaseMs: 40, maxAttempts: 8 };
const SECRET = "receiver-secret-1";

let store: ChdbStore;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await dropTestStore(store);
});

function api(policy: DeliveryPolicy) {
  const app = createQueryApp({
    store,
    cache: new MemoryResultCache(),
    auth: { jwtSecret: JWT_SECRET },
    logger,
    registry: new Registry(),
    alertPolicy: policy,
  });
  return async (method: string, path: string, org: string, body?: unknown) => {
    const token = await issueToken(JWT_SECRET, org);
    return await app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  };
}
let cached: ReturnType<typeof api> | undefined;
/** Built on first use: the store opens in beforeAll. */
const call: ReturnType<typeof api> = (...args) => {
  cached ??= api(POLICY);
  return cached(...args);
};
async function json<T = Record<string, unknown>>(method: string, path: string, org: string, body?: unknown): Promise<T> {
  const res = await call(method, path, org, body);
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

const RUN = `t-alerts-${randomUUID()}`;
afterAll(async () => {
  await dropQueues(REDIS_URL, RUN);
});
const jobs = (bullConnection?: Redis, queueName = `${RUN}-${randomUUID()}`) =>
  startAlertJobs({ store, logger, policy: POLICY, intervalMs: 3_600_000, queueName, ...(bullConnection ? { bullConnection } : {}) });

type Body = { id: string; type: string; org_id: string; occurred_at: string; data: Record<string, unknown> };
const bodies = (r: Receiver) => r.accepted().map((x) => JSON.parse(x.body) as Body);

describe("budget threshold alerts, in process", () => {
  it("crossing 50 and 100 in one evaluation sends both; a receiver failing twice gets the third attempt; no re-send after a restart", async () => {
    const org = "org-budget-alerts";
    const receiver = await startReceiver({ failFirst: 4 });
    const budget = await json<{ id: string }>("POST", "/v1/budgets", org, {
      name: "team",
      metric: "requests",
      limit: 4,
      window: { period: "month", tz: "America/New_York" },
      thresholds: [50, 100],
      enforcement: "soft",
    });
    const rule = await json<{ id: string }>("POST", "/v1/alerts/rules", org, {
      name: "team budget",
      source: { budget_id: budget.id },
      channels: [{ type: "webhook", url: receiver.url, secret: SECRET }],
    });
    await insertEvents(
      store,
      [0, 1, 2, 3].map((i) => testEvent(org, Date.now() - 1_000 - i)),
    );
    const a: AlertJobs = await jobs();
    const first = await a.evaluateNow();
    expect(first.notifications.map((n) => n.type).sort()).toEqual(["budget.exceeded", "budget.threshold_crossed"]);
    expect(await eventually(() => receiver.accepted().length === 2)).toBe(true);
    // Each of the two failed twice (4 failures in all) before its third attempt got through.
    expect(receiver.received).toHaveLength(6);
    for (const r of receiver.accepted()) {
      const b = JSON.parse(r.body) as Body;
      expect(r.headers["idempotency-key"]).toBe(b.id);
      expect(verifySignature(SECRET, r.body, String(r.headers["tokenmeter-signature"]), Math.floor(Date.now() / 1000))).toBe(true);
      expect(b).toMatchObject({ org_id: org, data: { budget_id: budget.id, spent: 4, limit: 4 } });
      expect(Object.keys(b.data)).toEqual(expect.arrayContaining(["budget_id", "threshold", "spent", "limit", "window_start"]));
    }
    expect(
      bodies(receiver)
        .map((b) => b.data.threshold)
        .sort(),
    ).toEqual([100, 50]);
    // The same tick again, a later tick, and a fresh process: nothing new.
    expect((await a.evaluateNow()).notifications).toEqual([]);
    await a.close();
    const b = await jobs();
    expect((await b.evaluateNow(Date.now() + 120_000)).notifications).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.accepted()).toHaveLength(2);
    // History and the delivery log.
    const events = await json<{ events: Body[] }>("GET", "/v1/alerts/events", org);
    expect(events.events).toHaveLength(2);
    const log = await json<{ deliveries: { id: string; attempt: number; status: string; response_code: number }[] }>(
      "GET",
      "/v1/alerts/deliveries",
      org,
    );
    expect(log.deliveries.filter((d) => d.status === "failed").map((d) => d.response_code)).toEqual([500, 500, 500, 500]);
    expect(log.deliveries.filter((d) => d.status === "delivered").map((d) => d.attempt)).toEqual([3, 3]);
    // Resend: the same notification id, once more.
    const resent = await json<{ status: string; event_id: string }>("POST", `/v1/alerts/deliveries/${log.deliveries[0]?.id}/resend`, org);
    expect(resent.status).toBe("delivered");
    expect(bodies(receiver).at(-1)?.id).toBe(resent.event_id);
    // Another org sees none of it.
    expect((await json<{ events: unknown[] }>("GET", "/v1/alerts/events", "org-other")).events).toEqual([]);
    expect((await call("GET", `/v1/alerts/rules/${rule.id}`, "org-other")).status).toBe(404);
    await b.close();
    await receiver.close();
  });
});

describe("metric alerts", () => {
  it("error rate over a threshold with min_requests triggers once, resolves once", async () => {
    const org = "org-metric-alerts";
    const receiver = await startReceiver();
    await json("POST", "/v1/alerts/rules", org, {
      name: "errors",
      source: { metric: "error_rate", window_minutes: 10, op: ">", threshold: 0.5, min_requests: 3, per: "agent_id" },
      channels: [{ type: "webhook", url: receiver.url, secret: SECRET }],
    });
    const a = await jobs();
    const now = Date.now();
    // Two failing calls: not enough requests to judge.
    await insertEvents(store, [testEvent(org, now - 5_000, { status_code: 500 }), testEvent(org, now - 4_000, { status_code: 500 })]);
    expect((await a.evaluateNow(now)).notifications).toEqual([]);
    await insertEvents(store, [testEvent(org, now - 3_000, { status_code: 500 })]);
    const t1 = await a.evaluateNow(now + 60_000);
    expect(t1.notifications.map((n) => [n.type, n.group_key])).toEqual([["alert.triggered", "bot"]]);
    expect((await a.evaluateNow(now + 120_000)).notifications).toEqual([]);
    await insertEvents(
      store,
      [1, 2, 3, 4].map((i) => testEvent(org, now + 60_000 + i)),
    );
    const t3 = await a.evaluateNow(now + 180_000);
    expect(t3.notifications.map((n) => n.type)).toEqual(["alert.resolved"]);
    expect((await a.evaluateNow(now + 240_000)).notifications).toEqual([]);
    const ok = await eventually(() => receiver.accepted().length === 2);
    expect(ok, JSON.stringify(await json("GET", "/v1/alerts/deliveries", org))).toBe(true);
    expect(bodies(receiver).map((b) => b.type)).toEqual(["alert.triggered", "alert.resolved"]);
    await a.close();
    await receiver.close();
  });
});

describe("two worker replicas on BullMQ", () => {
  it("deliver each notification exactly once, also after one stops and the other evaluates later", async () => {
    const org = "org-replicas";
    const receiver = await startReceiver({ failFirst: 1 });
    const budget = await json<{ id: string }>("POST", "/v1/budgets", org, {
      name: "r",
      metric: "requests",
      limit: 2,
      window: { period: "day", tz: "UTC" },
      thresholds: [100],
    });
    await json("POST", "/v1/alerts/rules", org, {
      name: "r",
      source: { budget_id: budget.id },
      channels: [{ type: "webhook", url: receiver.url, secret: SECRET }],
    });
    await insertEvents(store, [testEvent(org, Date.now() - 2_000), testEvent(org, Date.now() - 1_000)]);
    const queue = `${RUN}-${randomUUID()}`;
    const conns = [new Redis(REDIS_URL, { maxRetriesPerRequest: null }), new Redis(REDIS_URL, { maxRetriesPerRequest: null })];
    const [a, b] = await Promise.all(conns.map((c) => jobs(c, queue)));
    const now = Date.now();
    await Promise.all([a?.evaluateNow(now), b?.evaluateNow(now)]);
    expect(await eventually(() => receiver.accepted().length === 1)).toBe(true);
    await a?.close();
    await b?.evaluateNow(now + 3_600_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.accepted()).toHaveLength(1);
    expect(receiver.received).toHaveLength(2);
    await b?.close();
    for (const c of conns) c.disconnect();
    await receiver.close();
  });
});

describe("rule validation", () => {
  it("lists every problem; private targets are refused unless allowed", async () => {
    const strict = api({ ...POLICY, allowPrivate: false });
    const res = await strict("POST", "/v1/alerts/rules", "org-v", {
      name: "",
      source: { metric: "latency", window_minutes: 0 },
      channels: [
        { type: "webhook", url: "http://127.0.0.1:9/hook" },
        { type: "slack", url: "ftp://hooks.example.com" },
        { type: "email", url: "x" },
      ],
    });
    expect(res.status).toBe(400);
    const paths = ((await res.json()) as { error: { details: { issues: { path: string }[] } } }).error.details.issues.map((i) => i.path);
    for (const p of ["name", "source.metric", "source.window_minutes", "channels.0.url", "channels.1.url", "channels.2.type"])
      expect(paths, p).toContain(p);
    const budgetMissing = await strict("POST", "/v1/alerts/rules", "org-v", {
      name: "x",
      source: { budget_id: "nope" },
      channels: [{ type: "webhook", url: "https://hooks.example.com/x", secret: "12345678" }],
    });
    expect(budgetMissing.status).toBe(400);
    expect(await budgetMissing.text()).toContain("source.budget_id");
    // With the flag, the same loopback URL is accepted, and the test endpoint reaches it.
    const receiver = await startReceiver();
    const rule = await json<{ id: string; channels: { secret: string }[] }>("POST", "/v1/alerts/rules", "org-v", {
      name: "ok",
      source: { metric: "cost_usd", threshold: 10 },
      channels: [
        { type: "webhook", url: receiver.url },
        { type: "slack", url: receiver.url },
      ],
    });
    expect(rule.channels[0]?.secret).toMatch(/^whsec_/);
    const tested = await json<{ results: { status: string }[] }>("POST", `/v1/alerts/rules/${rule.id}/test`, "org-v");
    expect(tested.results.map((r) => r.status)).toEqual(["delivered", "delivered"]);
    expect(
      verifySignature(
        rule.channels[0]?.secret ?? "",
        receiver.received[0]?.body ?? "",
        String(receiver.received[0]?.headers["tokenmeter-signature"]),
        Math.floor(Date.now() / 1000),
      ),
    ).toBe(true);
    expect(JSON.parse(receiver.received[1]?.body ?? "{}")).toHaveProperty("text");
    await receiver.close();
  });
});
