import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { issueToken } from "@tokenmeter/http";
import { createBudgetRuntime, createQueryApp, MemoryResultCache } from "@tokenmeter/query";
import { BudgetCheckError, BudgetExceededError, createBudgetClient } from "@tokenmeter/sdk";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "./support/store.js";

// The SDK's check/reserve against a real server on a real store: an agent loop
// stops at the cap with a non-retryable error.
const SECRET = "sdk-budget-secret-0123456789abcdef";
let store: ChdbStore;
let server: ReturnType<typeof serve>;
let base: string;
const logger = pino({ level: "silent" });
const budgets = { stop: () => {} };

beforeAll(async () => {
  store = await openTestStore();
  const runtime = createBudgetRuntime({ store, logger, now: Date.now });
  budgets.stop = runtime.stop;
  const app = createQueryApp({
    store,
    cache: new MemoryResultCache(),
    auth: { jwtSecret: SECRET },
    logger,
    registry: new Registry(),
    budgets: runtime,
  });
  server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((r) => server.once("listening", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  budgets.stop();
  await new Promise<void>((r) => server.close(() => r()));
  await dropTestStore(store);
});

describe("SDK budget client", () => {
  it("reserve() lets an agent loop through until the cap, then throws a non-retryable BudgetExceededError", async () => {
    const token = await issueToken(SECRET, "org-sdk");
    const res = await fetch(`${base}/v1/budgets`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        name: "agent cap",
        metric: "cost_usd",
        limit: 1,
        window: { period: "day", tz: "UTC" },
        scope: { agent_id: "loop" },
        enforcement: "hard",
      }),
    });
    expect(res.status).toBe(201);
    const client = createBudgetClient({ baseUrl: base, token });
    expect((await client.check({ agent_id: "loop" })).allowed).toBe(true);
    const held = [];
    let refused: unknown;
    for (let i = 0; i < 10 && !refused; i++) {
      try {
        held.push(await client.reserve({ agent_id: "loop", estimate: 0.3 }));
      } catch (err) {
        refused = err;
      }
    }
    expect(held).toHaveLength(3);
    expect(refused).toBeInstanceOf(BudgetExceededError);
    expect((refused as BudgetExceededError).retryable).toBe(false);
    expect((refused as BudgetExceededError).budgets[0]).toMatchObject({ name: "agent cap", enforcement: "hard" });
    await held[0]?.release();
    expect((await client.reserve({ agent_id: "loop", estimate: 0.3 })).allowed).toBe(true);
    // Another agent is outside the budget's scope.
    expect((await client.reserve({ agent_id: "other", estimate: 5 })).budgets).toEqual([]);
  });

  it("a bad credential is a BudgetCheckError that is not retryable", async () => {
    const client = createBudgetClient({ baseUrl: base, token: "nope" });
    const err = await client.check({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BudgetCheckError);
    expect(err).toMatchObject({ status: 401, retryable: false });
  });
});
