import { randomUUID } from "node:crypto";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { toUsageRow } from "@tokenmeter/core";
import { InProcessPricingUpdates, loadPriceVersions, PriceBook, pricingChannel, RedisPricingUpdates } from "@tokenmeter/pricing";
import { usageEvent } from "@tokenmeter/pricing/testing";
import { Redis } from "ioredis";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { PricingConfig } from "./config.js";
import { startPricingRefresh } from "./start.js";

const REDIS_URL = process.env.TOKENMETER_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const logger = pino({ level: "silent" });
let store: ChdbStore;
let redis: Redis;
beforeAll(async () => {
  store = await openTestStore();
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await dropTestStore(store);
  redis.disconnect();
});

describe("startPricingRefresh", () => {
  it("embedded: seeds the bundled snapshot and prices offline, no refresh at start for the bundled source", async () => {
    const config = PricingConfig.parse({ TOKENMETER_PRICING_SOURCE: "bundled" });
    const registry = new Registry();
    const before = Date.now() / 1000 - 1;
    const pricing = await startPricingRefresh({ store, config, updates: new InProcessPricingUpdates(), logger, registry });
    await pricing.close();
    // The gauges report the seeded prices at once (not 0 until the first scheduled refresh).
    const gauge = async (name: string) => Number((await registry.getSingleMetric(name)?.get())?.values[0]?.value ?? 0);
    expect(await gauge("tokenmeter_pricing_models")).toBeGreaterThan(50);
    expect(await gauge("tokenmeter_pricing_last_success_timestamp_seconds")).toBeGreaterThan(before);
    const book = await PriceBook.load(store);
    const e = usageEvent({ provider: "openai", model: "gpt-4o-2024-11-20", input_tokens: 1_000_000, output_tokens: 1_000_000 });
    expect(book.price(e)).toMatchObject({ cost_source: "computed" });
    expect(book.price(e).cost_usd).toBeCloseTo(2.5 + 10, 9);
    expect(book.price({ ...e, model: "openai/gpt-4o-mini" }).cost_usd).toBeCloseTo(0.15 + 0.6, 9);
    expect((await loadPriceVersions(store)).length).toBeGreaterThan(50);
  });

  it("distributed: the BullMQ worker runs a queued re-pricing job", async () => {
    const config = {
      ...PricingConfig.parse({ TOKENMETER_PRICING_SOURCE: "bundled", TOKENMETER_PRICING_QUEUE: `pricing-${randomUUID()}` }),
      // The alert jobs start beside pricing: their own queue, so no schedule is left on a shared name.
      TOKENMETER_ALERT_QUEUE: `alerts-${randomUUID()}`,
    };
    const updates = new RedisPricingUpdates({ redis, channel: pricingChannel(`t-${randomUUID()}`) });
    const pricing = await startPricingRefresh({ store, config, updates, logger, registry: new Registry(), bullConnection: redis });
    const worker = pricing.worker;
    if (!worker) throw new Error("expected a BullMQ worker");
    try {
      // An event stored unpriced (as if ingested before the snapshot was there), inside the raw TTL.
      const t = Date.now() - 3 * 86_400_000;
      const e = usageEvent({
        event_id: randomUUID(),
        event_time_ms: t,
        provider: "openai",
        model: "gpt-4o",
        input_tokens: 1_000,
        output_tokens: 100,
      });
      await store.insert("llm_usage", [toUsageRow(e, { cost_usd: 0, cost_source: "unpriced", pricing_version: "" }, "test")]);
      const job = await worker.enqueueReprice({ from: new Date(t - 3_600_000).toISOString(), to: new Date(t + 3_600_000).toISOString() });
      let state = "";
      for (let i = 0; i < 300 && state !== "completed" && state !== "failed"; i++) {
        await new Promise((r) => setTimeout(r, 50));
        state = (await job.getState()) ?? "";
      }
      expect(state).toBe("completed");
      const [row] = await store.query<{ cost_usd: number; cost_source: string }>(
        "SELECT cost_usd, cost_source FROM llm_usage WHERE model = 'gpt-4o'",
      );
      expect(row?.cost_source).toBe("computed");
      expect(row?.cost_usd).toBeCloseTo(1_000 * 2.5e-6 + 100 * 1e-5, 12);
    } finally {
      await worker.worker.close();
      await worker.queue.obliterate({ force: true });
      await pricing.close();
    }
  });
});
