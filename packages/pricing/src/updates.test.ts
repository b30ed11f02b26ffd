import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { InProcessPricingUpdates, type PricingUpdate, type PricingUpdates, pricingChannel, RedisPricingUpdates } from "./updates.js";

const REDIS_URL = process.env.TOKENMETER_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const redis = new Redis(REDIS_URL, { lazyConnect: true });
afterAll(() => redis.disconnect());

/** The conformance every PricingUpdates implementation must pass. */
async function conformance(updates: PricingUpdates) {
  const got: PricingUpdate[] = [];
  const off = await updates.subscribe((u) => got.push(u));
  await updates.publish({ version: "v9", changed_models: 3 });
  for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(got).toEqual([{ version: "v9", changed_models: 3 }]);
  await off();
  await updates.publish({ version: "v10", changed_models: 1 });
  await new Promise((r) => setTimeout(r, 100));
  expect(got).toHaveLength(1);
}

describe("PricingUpdates", () => {
  it("in-process: delivers to subscribers until they unsubscribe", async () => {
    await conformance(new InProcessPricingUpdates());
  });

  it("Redis pub/sub: delivers across connections until they unsubscribe", async () => {
    await conformance(new RedisPricingUpdates({ redis, channel: pricingChannel(`test-${randomUUID()}`) }));
  });
});
