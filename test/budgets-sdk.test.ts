import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { issueToken } from "@tokenmeter/http";
import { createBudgetRuntime, createQueryApp, MemoryResultCache } from "@tokenmeter/query";
import { BudgetCheckError, BudgetExceededError, createBudgetClient, createUsageClient, HttpTransport } from "@tokenmeter/sdk";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAllInOne, startAllInOne } from "./support/all-in-one.js";
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

describe("SDK reserve + track in the all-in-one", () => {
  let aio: RunningAllInOne | undefined;
  afterAll(async () => {
    await aio?.stop();
  });

  it("track({ event_id: hold.key }) settles the hold: the budget ends up counting the call once, and never less in between", async () => {
    aio = await startAllInOne({ TOKENMETER_DEMO_EVENTS: "0", TOKENMETER_BUDGET_REFRESH_MS: "200" });
    const { url, token } = aio;
    const created = await fetch(`${url}/v1/budgets`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        name: "settler cap",
        metric: "requests",
        limit: 10,
        window: { period: "day", tz: "UTC" },
        scope: { agent_id: "settler" },
        enforcement: "hard",
      }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const budgets = createBudgetClient({ baseUrl: url, token });
    const call = { agent_id: "settler", provider: "openai", model: "gpt-4o" };
    const hold = await budgets.reserve({ ...call, estimate: 1 });
    expect(hold.key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(hold.id).toBe(hold.key);
    // Another call's hold, whose event never comes: it stays.
    const other = await budgets.reserve({ ...call, estimate: 2 });

    const usage = createUsageClient({ transport: new HttpTransport({ url, token }), flushOnExit: false });
    usage.track({ ...call, event_id: hold.key, input_tokens: 10, output_tokens: 2, status_code: 200 });
    await usage.close();

    const seen: { spent: number; held: number }[] = [];
    const started = Date.now();
    for (;;) {
      const b = (await budgets.check(call)).budgets[0];
      if (!b) throw new Error("the budget is missing from the check");
      seen.push({ spent: b.spent, held: b.held });
      if ((b.spent === 1 && b.held === 2) || Date.now() - started > 10_000) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // Settled: the call counted once as spent, its hold gone, the other hold kept.
    expect(seen.at(-1)).toEqual({ spent: 1, held: 2 });
    // At no point did the call count as neither held nor spent.
    expect(seen.every((x) => x.spent + x.held >= 3)).toBe(true);
    await other.release();
  });
});
