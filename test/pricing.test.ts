import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import type { UsageEvent } from "@tokenmeter/core";
import { issueToken } from "@tokenmeter/http";
import { createBatchWriter } from "@tokenmeter/ingest";
import { followPricingUpdates, InProcessPricingUpdates, PriceBook } from "@tokenmeter/pricing";
import { madeUpDocument, usageEvent } from "@tokenmeter/pricing/testing";
import { fileSource, runPricingRefresh } from "@tokenmeter/pricing-refresh";
import { createQueryApp, MemoryResultCache } from "@tokenmeter/query";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listJob, refreshJob } from "../apps/tokenmeter/src/commands/pricing.js";
import { repriceJob } from "../apps/tokenmeter/src/commands/reprice.js";
import { loadJobConfig } from "../apps/tokenmeter/src/jobs/config.js";
import { createPricingRoutes } from "../services/query/src/routes/pricing.js";
import { dropTestStore, openTestStore } from "./support/store.js";

/**
 * Pricing end to end on the real engine: a price file written here, the
 * refresh job, ingest pricing through the batching writer, the query API,
 * then a price for the unknown model, `tokenmeter pricing refresh` and
 * `tokenmeter reprice` (twice), checked through usage/models/summary.
 */
const logger = pino({ level: "silent" });
const SECRET = "pricing-e2e-secret-pricing-e2e-secret-0";
const loaded = loadJobConfig({});
if (!loaded.ok) throw new Error(loaded.errors.join("; "));
const config = loaded.config;

// Last month, whatever day the suite runs: inside the raw TTL, and a closed range.
const today = new Date();
const FROM = Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 1);
const TO = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1);
const range = `start=${new Date(FROM).toISOString()}&end=${new Date(TO).toISOString()}`;

const prices = {
  known: { input: 2e-6, output: 8e-6 },
  mystery: { input: 1.5e-6, output: 6e-6, cache_read: 1.5e-7, reasoning: 12e-6 },
};

let store: ChdbStore;
let dir: string;
beforeAll(async () => {
  store = await openTestStore();
  dir = mkdtempSync(join(tmpdir(), "tokenmeter-pricing-"));
});
afterAll(async () => {
  await dropTestStore(store);
  rmSync(dir, { recursive: true, force: true });
});

function priceFile(name: string, doc: Record<string, unknown>): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

/** A fresh query app per look: its result cache must not answer with pre-reprice totals. */
async function api(path: string): Promise<Record<string, unknown>> {
  const auth = { jwtSecret: SECRET };
  const app = createQueryApp({
    store,
    cache: new MemoryResultCache(),
    auth,
    logger,
    registry: new Registry(),
    now: () => TO,
    mount: [createPricingRoutes({ store, auth, now: () => TO })],
  });
  const res = await app.request(path, { headers: { authorization: `Bearer ${await issueToken(SECRET, "org-p")}` } });
  expect(res.status, path).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

function events(): UsageEvent[] {
  const out: UsageEvent[] = [];
  for (let i = 0; i < 40; i++) {
    const t = FROM + i * 17 * 3_600_000;
    const base = { event_id: randomUUID(), org_id: "org-p", event_time_ms: t, input_tokens: 1_000 + i * 37, output_tokens: 200 + i };
    out.push(usageEvent({ ...base, provider: "acme", model: i % 2 ? "acme-chat" : "mystery-1" }));
    if (i % 5 === 0)
      out.push(usageEvent({ ...base, event_id: randomUUID(), model: "mystery-1", cached_input_tokens: 400, reasoning_tokens: 50 }));
  }
  return out;
}

function expectedCost(e: UsageEvent): number {
  if (e.model === "acme-chat") return e.input_tokens * prices.known.input + e.output_tokens * prices.known.output;
  const p = prices.mystery;
  return (
    (e.input_tokens - e.cached_input_tokens) * p.input +
    e.cached_input_tokens * p.cache_read +
    (e.output_tokens - e.reasoning_tokens) * p.output +
    e.reasoning_tokens * p.reasoning
  );
}

describe("pricing end to end", () => {
  const evs = events();
  const mysteryCount = evs.filter((e) => e.model === "mystery-1").length;
  const knownCost = evs.filter((e) => e.model === "acme-chat").reduce((s, e) => s + expectedCost(e), 0);
  const mysteryCost = evs.filter((e) => e.model === "mystery-1").reduce((s, e) => s + expectedCost(e), 0);

  it("ingest prices known models, stores the unknown one unpriced, and the API says so", async () => {
    const updates = new InProcessPricingUpdates();
    const file = priceFile("v1.json", madeUpDocument());
    await runPricingRefresh({ store, source: fileSource(file), updates, logger });
    const book = await PriceBook.load(store);
    await followPricingUpdates({ book, updates, logger });
    const writer = createBatchWriter({ store, logger, pricer: book });
    await writer.write(evs, "test");
    await writer.close();

    const summary = await api(`/v1/analytics/summary?${range}`);
    expect(summary.requests).toBe(evs.length);
    expect(summary.unpriced_requests).toBe(mysteryCount);
    expect(Math.abs((summary.cost_usd as number) - knownCost)).toBeLessThan(1e-5);
    const unpriced = await api(`/v1/pricing/unpriced?${range}`);
    expect(unpriced).toMatchObject({
      unpriced_requests: mysteryCount,
      models: [{ provider: "acme", model: "mystery-1", unpriced_requests: mysteryCount }],
    });
  });

  it("after the price is added and reprice runs, usage/models/summary equal the expected costs; a second run changes nothing", async () => {
    const doc = madeUpDocument({
      "mystery-1": {
        litellm_provider: "acme",
        input_cost_per_token: prices.mystery.input,
        output_cost_per_token: prices.mystery.output,
        cache_read_input_token_cost: prices.mystery.cache_read,
        output_cost_per_reasoning_token: prices.mystery.reasoning,
      },
    });
    const ctx = { store, logger, config };
    expect(await refreshJob(ctx, { source: priceFile("v2.json", doc) }, {})).toBe(0);
    const models = (await api("/v1/pricing/models")) as { models: Array<{ model: string }> };
    expect(models.models.map((m) => m.model)).toContain("mystery-1");

    let report = "";
    const args = { from: new Date(FROM), to: new Date(TO), dryRun: false, json: true, enqueue: false };
    expect(await repriceJob(ctx, args, (t) => (report += t))).toBe(0);
    const first = JSON.parse(report) as {
      rows_changed: number;
      models: Array<{ model: string; requests: number; old_cost_usd: number; new_cost_usd: number }>;
    };
    expect(first.rows_changed).toBe(mysteryCount);
    const m = first.models.find((x) => x.model === "mystery-1");
    expect(m?.requests).toBe(mysteryCount);
    expect(m?.old_cost_usd).toBe(0);
    expect(Math.abs((m?.new_cost_usd ?? 0) - mysteryCost)).toBeLessThan(1e-9);

    const check = async () => {
      const usage = (await api(`/v1/analytics/usage?${range}&granularity=month`)) as { totals: { cost_usd: number; requests: number } };
      const byModel = (await api(`/v1/analytics/models?${range}`)) as {
        models: Array<{ model: string; cost_usd: number; requests: number }>;
      };
      const summary = (await api(`/v1/analytics/summary?${range}`)) as { cost_usd: number; unpriced_requests: number };
      expect(Math.abs(usage.totals.cost_usd - (knownCost + mysteryCost))).toBeLessThan(1e-5);
      expect(Math.abs((byModel.models.find((x) => x.model === "mystery-1")?.cost_usd ?? 0) - mysteryCost)).toBeLessThan(1e-5);
      expect(Math.abs((byModel.models.find((x) => x.model === "acme-chat")?.cost_usd ?? 0) - knownCost)).toBeLessThan(1e-5);
      expect(Math.abs(summary.cost_usd - (knownCost + mysteryCost))).toBeLessThan(1e-5);
      expect(summary.unpriced_requests).toBe(0);
      expect(((await api(`/v1/pricing/unpriced?${range}`)) as { models: unknown[] }).models).toEqual([]);
      return { usage, byModel, summary };
    };
    const after = await check();

    let second = "";
    expect(await repriceJob(ctx, { ...args, json: false }, (t) => (second += t))).toBe(0);
    expect(second).toMatch(/TOTAL\s+\S*\s*\d+\s+0\s/);
    expect(second).toContain("months rebuilt: none");
    expect(await check()).toEqual(after);

    let listed = "";
    expect(await listJob(ctx, { provider: "acme" }, (t) => (listed += t))).toBe(0);
    expect(listed).toMatch(/mystery-1\s+acme\s+1\.5\s+6\s+0\.15\s+-\s+12/);
  });

  it("a malformed price file is refused by `pricing refresh` and changes nothing", async () => {
    const before = await api("/v1/pricing/models");
    const bad = priceFile("bad.json", madeUpDocument({ "acme-chat": { input_cost_per_token: "2e-6" } }));
    expect(await refreshJob({ store, logger, config }, { source: bad }, {})).toBe(1);
    expect(await api("/v1/pricing/models")).toEqual(before);
  });
});
