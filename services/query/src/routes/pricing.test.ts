import { randomUUID } from "node:crypto";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { toUsageRow } from "@tokenmeter/core";
import { issueToken } from "@tokenmeter/http";
import { diffPrices, insertPriceVersions, PriceBook, parseLiteLlmDocument, planVersions } from "@tokenmeter/pricing";
import { madeUpDocument, usageEvent } from "@tokenmeter/pricing/testing";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import { createQueryApp } from "../app.js";
import { MemoryResultCache } from "../cache.js";
import { JWT_SECRET } from "../testing/fixture.js";
import { createPricingRoutes, UNPRICED_SQL } from "./pricing.js";

const NOW = Date.parse("2026-06-30T12:00:00Z");
let store: ChdbStore;
let app: ReturnType<typeof createQueryApp>;

async function get(path: string, org = "org-a"): Promise<Response> {
  return app.request(path, { headers: { authorization: `Bearer ${await issueToken(JWT_SECRET, org)}` } });
}

beforeAll(async () => {
  store = await openTestStore();
  const auth = { jwtSecret: JWT_SECRET };
  app = createQueryApp({
    store,
    cache: new MemoryResultCache(),
    auth,
    logger: pino({ level: "silent" }),
    registry: new Registry(),
    now: () => NOW,
    mount: [createPricingRoutes({ store, auth, now: () => NOW })],
  });
  const parsed = parseLiteLlmDocument(JSON.stringify(madeUpDocument()));
  await insertPriceVersions(store, planVersions(diffPrices([], parsed.entries), { version: "v1", source: "file:prices.json", nowMs: 0 }));
  const changed = parseLiteLlmDocument(
    JSON.stringify(madeUpDocument({ "acme-chat": { input_cost_per_token: 4e-6, output_cost_per_token: 8e-6 } })),
  );
  const current = await PriceBook.load(store);
  await insertPriceVersions(
    store,
    planVersions(diffPrices(current.current(), changed.entries), {
      version: "v2",
      source: "https://prices.example/p.json",
      nowMs: Date.parse("2026-06-01T00:00:00Z"),
    }),
  );
  const book = await PriceBook.load(store);
  const events = [
    usageEvent({ event_id: randomUUID(), model: "mystery-1", event_time_ms: Date.parse("2026-06-10T00:00:00Z"), input_tokens: 5 }),
    usageEvent({ event_id: randomUUID(), model: "mystery-1", event_time_ms: Date.parse("2026-06-20T00:00:00Z"), input_tokens: 5 }),
    usageEvent({
      event_id: randomUUID(),
      model: "mystery-2",
      provider: "globex",
      event_time_ms: Date.parse("2026-06-21T00:00:00Z"),
      input_tokens: 5,
    }),
    usageEvent({ event_id: randomUUID(), model: "mystery-1", event_time_ms: Date.parse("2026-06-21T00:00:00Z"), cost_usd: 1 }),
    usageEvent({ event_id: randomUUID(), model: "acme-chat", event_time_ms: Date.parse("2026-06-21T00:00:00Z"), input_tokens: 5 }),
    usageEvent({
      event_id: randomUUID(),
      model: "mystery-3",
      org_id: "org-b",
      event_time_ms: Date.parse("2026-06-21T00:00:00Z"),
      input_tokens: 5,
    }),
  ];
  await store.insert(
    "llm_usage",
    events.map((e) => toUsageRow(e, book.price(e), "test")),
  );
});
afterAll(async () => {
  await dropTestStore(store);
});

describe("GET /v1/pricing/models", () => {
  it("lists the prices in effect now, with the latest version and its source", async () => {
    const res = await get("/v1/pricing/models");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { version: string; source: string; count: number; models: Array<Record<string, unknown>> };
    expect(body).toMatchObject({ version: "v2", source: "https://prices.example/p.json", count: 6 });
    expect(body.models.find((m) => m.model === "acme-chat")).toMatchObject({
      input_cost_per_token: 4e-6,
      output_cost_per_token: 8e-6,
      version: "v2",
      effective_from: "2026-06-01T00:00:00.000Z",
    });
    expect(body.models.find((m) => m.model === "acme-long")).toMatchObject({
      version: "v1",
      tiers: [{ above_input_tokens: 200_000, input: 2.5e-6 }],
    });
    const globex = (await (await get("/v1/pricing/models?provider=globex")).json()) as { models: Array<{ model: string }> };
    expect(globex.models.map((m) => m.model)).toEqual(["globex/embed-1"]);
  });

  it("requires a credential", async () => {
    expect((await app.request("/v1/pricing/models")).status).toBe(401);
  });
});

describe("GET /v1/pricing/unpriced", () => {
  it("lists the org's models seen without a price, most unpriced first (exact SQL)", async () => {
    expect(UNPRICED_SQL).toContain("WHERE org_id = {org_id:String} AND day >= {start_day:Date} AND day <= {end_day:Date}");
    const body = await (await get("/v1/pricing/unpriced")).json();
    expect(body).toEqual({
      start: "2026-05-31T12:00:00.000Z",
      end: "2026-06-30T12:00:00.000Z",
      unpriced_requests: 3,
      models: [
        { provider: "acme", model: "mystery-1", unpriced_requests: 2, requests: 3, first_seen: "2026-06-10", last_seen: "2026-06-20" },
        { provider: "globex", model: "mystery-2", unpriced_requests: 1, requests: 1, first_seen: "2026-06-21", last_seen: "2026-06-21" },
      ],
    });
  });

  it("honours start/end and never shows another org's models", async () => {
    const body = (await (await get("/v1/pricing/unpriced?start=2026-06-15T00:00:00Z&end=2026-06-21T00:00:00Z")).json()) as {
      unpriced_requests: number;
    };
    expect(body.unpriced_requests).toBe(1);
    const other = (await (await get("/v1/pricing/unpriced", "org-b")).json()) as { models: Array<{ model: string }> };
    expect(other.models.map((m) => m.model)).toEqual(["mystery-3"]);
  });

  it("answers 400 for a bad range", async () => {
    const res = await get("/v1/pricing/unpriced?start=yesterday");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_parameter");
    expect((await get("/v1/pricing/unpriced?start=2026-06-20T00:00:00Z&end=2026-06-10T00:00:00Z")).status).toBe(400);
  });
});
