import { randomUUID } from "node:crypto";
import { toUsageRow, type UsageEvent } from "@tokenmeter/core";
import { type PricingUpdate, pricingChannel, RedisPricingUpdates } from "@tokenmeter/pricing";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import { type JobContext, UsageError } from "../jobs/run.js";
import { setJob } from "./pricing-set.js";

// `tokenmeter pricing set`: an org's override prices its unpriced history of the model, not other orgs'.
const NOW = Date.parse("2026-06-15T12:00:00Z");
let store: Awaited<ReturnType<typeof openTestStore>>;

const event = (org: string, i: number): UsageEvent => ({
  event_id: randomUUID(),
  event_time_ms: NOW - 86_400_000 - i * 60_000,
  org_id: org,
  project_id: "",
  user_id: "",
  agent_id: "",
  session_id: "",
  turn_id: "",
  message_id: "",
  call_sequence: null,
  provider: "openai",
  model: "ft:acme-support-v2",
  operation: "chat",
  input_tokens: 1_000,
  output_tokens: 100 + i,
  cached_input_tokens: 0,
  cache_write_tokens: 0,
  reasoning_tokens: 0,
  cost_usd: null,
  duration_ms: null,
  ttfb_ms: null,
  proxy_overhead_ms: null,
  status_code: 200,
  error_code: "",
  streaming: false,
  tags: {},
});

beforeAll(async () => {
  store = await openTestStore();
  const rows = ["acme", "globex"].flatMap((org) =>
    Array.from({ length: 5 }, (_, i) => toUsageRow(event(org, i), { cost_usd: 0, cost_source: "unpriced", pricing_version: "" }, "test")),
  );
  await store.insert("llm_usage", rows);
});
afterAll(async () => {
  await dropTestStore(store);
});

describe("tokenmeter pricing set", () => {
  it("saves the override and re-prices that org's history of the model only", async () => {
    const ctx = { store, logger: pino({ level: "silent" }), config: {} } as unknown as JobContext;
    await expect(setJob(ctx, { org: "acme", model: "ft:acme-support-v2", input: "-1", output: "1e-6" }, NOW)).rejects.toThrow(UsageError);
    expect(await setJob(ctx, { org: "acme", model: "ft:acme-support-v2", input: "3e-7", output: "1.2e-6" }, NOW)).toBe(0);
    const rows = await store.query<{ org_id: string; priced: number; cost: string }>(
      "SELECT org_id, countIf(cost_source = 'computed') AS priced, toString(sum(cost_usd)) AS cost FROM llm_usage GROUP BY org_id ORDER BY org_id",
    );
    // 5 × (1000 × 3e-7 + (100..104) × 1.2e-6) = 0.0015 + 510 × 1.2e-6 = 0.002112
    expect(rows).toEqual([
      { org_id: "acme", priced: 5, cost: "0.002112" },
      { org_id: "globex", priced: 0, cost: "0" },
    ]);
  });

  it('with Redis configured, announces the override on the deployment\'s "pricing updated" channel', async () => {
    const prefix = `test-pricing-set-${randomUUID().slice(0, 8)}`;
    const url = process.env.TOKENMETER_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
    const redis = new Redis(url);
    const heard: PricingUpdate[] = [];
    const unsubscribe = await new RedisPricingUpdates({ redis, channel: pricingChannel(prefix) }).subscribe((u) => heard.push(u));
    try {
      const config = { TOKENMETER_REDIS_URL: url, TOKENMETER_REDIS_PREFIX: prefix, TOKENMETER_PRICING_STRAGGLER_DELAY_MS: 100 };
      const ctx = { store, logger: pino({ level: "silent" }), config } as unknown as JobContext;
      expect(await setJob(ctx, { org: "initech", model: "ft:initech-v1", input: "1e-7", output: "2e-7" }, NOW)).toBe(0);
      for (let i = 0; i < 50 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(heard).toEqual([{ version: expect.any(String), changed_models: 1 }]);
    } finally {
      await unsubscribe();
      redis.disconnect();
    }
  });
});
