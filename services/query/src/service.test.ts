import type { ChdbStore } from "@tokenmeter/clickhouse";
import { issueToken } from "@tokenmeter/http";
import { Hono } from "hono";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { ENDPOINTS } from "./app.js";
import { MemoryResultCache } from "./cache.js";
import { AlertsConfig } from "./config.js";
import { createQueryService, type QueryService } from "./service.js";
import { JWT_SECRET } from "./testing/fixture.js";

/** An endpoint's path with the parameters it requires (tag values need the key). */
const sample = (path: string) => (path === "/v1/tags/values" ? `${path}?key=team` : path);

// What the query service serves is decided here, once, for the standalone
// process and the all-in-one alike (test/topology.test.ts checks the process).
let store: ChdbStore;
let service: QueryService;
const cache = new MemoryResultCache();

beforeAll(async () => {
  store = await openTestStore();
  service = createQueryService({
    store,
    cache,
    auth: { jwtSecret: JWT_SECRET },
    logger: pino({ level: "silent" }),
    registry: new Registry(),
    mount: [new Hono().get("/extra", (c) => c.text("mounted"))],
  });
});
afterAll(async () => {
  await service.close();
  await dropTestStore(store);
});

describe("createQueryService", () => {
  it("serves the dashboard, the pricing API, every analytics endpoint, OpenAPI and health, plus what it is given to mount", async () => {
    const headers = { authorization: `Bearer ${await issueToken(JWT_SECRET, "org-a")}` };
    const page = await service.app.request("/");
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    expect((await service.app.request("/v1/pricing/models", { headers })).status).toBe(200);
    expect((await service.app.request("/v1/pricing/models")).status).toBe(401);
    for (const e of ENDPOINTS) expect((await service.app.request(sample(e.path), { headers })).status, e.path).toBe(200);
    for (const path of ["/v1/openapi.json", "/healthz", "/readyz", "/metrics"]) {
      expect((await service.app.request(path)).status, path).toBe(200);
    }
    expect(await (await service.app.request("/extra")).text()).toBe("mounted");
  });
});

describe("createQueryService with a config naming Redis", () => {
  it("serves budgets and alerts, and holds reservations in Redis: a hold made through one replica is seen and released through another", async () => {
    const config = {
      ...AlertsConfig.parse({}),
      TOKENMETER_PRICING_STRAGGLER_DELAY_MS: 10_000,
      TOKENMETER_REDIS_URL: process.env.TOKENMETER_TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
      TOKENMETER_REDIS_KEY_PREFIX: `test-service-${process.pid}-${Date.now()}:`,
      TOKENMETER_REDIS_PREFIX: `test-service-${process.pid}-${Date.now()}`,
    };
    const replica = () =>
      createQueryService({
        store,
        cache: new MemoryResultCache(),
        auth: { jwtSecret: JWT_SECRET },
        logger: pino({ level: "silent" }),
        registry: new Registry(),
        config,
      });
    const [a, b] = [replica(), replica()];
    try {
      const headers = { authorization: `Bearer ${await issueToken(JWT_SECRET, "org-replicas")}`, "content-type": "application/json" };
      const post = (s: QueryService, path: string, body: unknown) =>
        s.app.request(path, { method: "POST", headers, body: JSON.stringify(body) });
      expect((await a.app.request("/v1/alerts/rules", { headers })).status).toBe(200);
      const created = await post(a, "/v1/budgets", {
        name: "room for one call",
        metric: "cost_usd",
        limit: 1,
        window: { period: "month", tz: "UTC" },
        enforcement: "hard",
      });
      expect(created.status).toBe(201);
      const check = async (s: QueryService, key: string) =>
        ((await (await post(s, "/v1/budgets/check", { estimate: 0.6, idempotency_key: key })).json()) as { allowed: boolean }).allowed;
      expect(await check(a, "call-a")).toBe(true);
      // B sees A's hold (in memory it would not, and would let this through).
      expect(await check(b, "call-b")).toBe(false);
      expect((await b.app.request("/v1/budgets/reservations/call-a", { method: "DELETE", headers })).status).toBe(204);
      expect(await check(b, "call-b")).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
