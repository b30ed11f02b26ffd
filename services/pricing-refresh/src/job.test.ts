import { randomUUID } from "node:crypto";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { followPricingUpdates, loadPriceVersions, PriceBook, pricingChannel, RedisPricingUpdates } from "@tokenmeter/pricing";
import { madeUpDocument, usageEvent } from "@tokenmeter/pricing/testing";
import type { Job, Queue } from "bullmq";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { type PricingWorker, startPricingWorker } from "./job.js";
import { runPricingRefresh } from "./refresh.js";
import { urlSource } from "./sources/index.js";
import { serve, startPriceServer, type TestServer } from "./testing/http.js";

const REDIS_URL = process.env.TOKENMETER_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const logger = pino({ level: "silent" });
let redis: Redis;
let store: ChdbStore;
const open: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  store = await openTestStore();
});
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});
afterAll(async () => {
  await dropTestStore(store);
  redis.disconnect();
});

/** A worker whose refresh reads `server` and publishes on `channel`; closed after the test. */
async function worker(queueName: string, server: TestServer | undefined, channel: string, attempts = 3): Promise<PricingWorker> {
  const updates = new RedisPricingUpdates({ redis, channel });
  const w = await startPricingWorker({
    connection: redis,
    queueName,
    cron: "17 4 * * *",
    attempts,
    backoffMs: 20,
    logger,
    refresh: () =>
      runPricingRefresh({ store, source: urlSource({ url: server?.url ?? "http://127.0.0.1:9/none", retries: 0 }), updates, logger }),
  });
  open.push({
    close: async () => {
      await w.worker.close();
      await w.queue.obliterate({ force: true });
      await w.queue.close();
    },
  });
  return w;
}

async function track(server: TestServer) {
  open.push(server);
  return server;
}

/** Waits (bounded) until the job is completed or failed for good. */
async function settle(queue: Queue, job: Job): Promise<{ state: string; attemptsMade: number }> {
  for (let i = 0; i < 300; i++) {
    const j = await queue.getJob(job.id as string);
    const state = (await j?.getState()) ?? "missing";
    if (state === "completed" || state === "failed") return { state, attemptsMade: j?.attemptsMade ?? 0 };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("job did not settle within 15 s");
}

const doc = (over: Record<string, Record<string, unknown>> = {}) => JSON.stringify(madeUpDocument(over));

describe("BullMQ pricing job on real Redis", () => {
  it("registers the refresh schedule once across two workers", async () => {
    const queueName = `pricing-${randomUUID()}`;
    const channel = pricingChannel(`t-${randomUUID()}`);
    const a = await worker(queueName, undefined, channel);
    await worker(queueName, undefined, channel);
    expect(await a.queue.getJobSchedulersCount()).toBe(1);
    const [scheduler] = await a.queue.getJobSchedulers();
    expect(scheduler).toMatchObject({ key: "pricing-refresh-schedule", pattern: "17 4 * * *" });
    expect(await a.queue.getDelayedCount()).toBe(1);
  });

  it("retries a failing source with backoff until it answers", async () => {
    const server = await track(await startPriceServer([serve("down", 503), serve("down", 500), serve(doc())]));
    const w = await worker(`pricing-${randomUUID()}`, server, pricingChannel(`t-${randomUUID()}`), 3);
    const result = await settle(w.queue, await w.refreshNow());
    expect(result).toEqual({ state: "completed", attemptsMade: 3 });
    expect(server.requests).toBe(3);
    expect((await loadPriceVersions(store)).map((v) => v.model)).toContain("acme-chat");
  });

  it("keeps the last good prices when the document turns malformed, and the ingest book reloads on a good one without restart", async () => {
    const channel = pricingChannel(`t-${randomUUID()}`);
    const book = await PriceBook.load(store);
    const reloaded: string[] = [];
    const off = await followPricingUpdates({
      book,
      updates: new RedisPricingUpdates({ redis, channel }),
      logger,
      onReload: (v) => reloaded.push(v),
    });
    open.push({ close: off });
    const event = usageEvent({ model: "acme-new", input_tokens: 1_000, output_tokens: 10 });
    expect(book.price(event).cost_source).toBe("unpriced");

    // 1. malformed: every attempt fails, nothing written, the book keeps its prices
    const before = await loadPriceVersions(store);
    const bad = await track(await startPriceServer([serve(doc({ "acme-new": { input_cost_per_token: "free" } }))]));
    const w1 = await worker(`pricing-${randomUUID()}`, bad, channel, 2);
    expect(await settle(w1.queue, await w1.refreshNow())).toEqual({ state: "failed", attemptsMade: 2 });
    expect(await loadPriceVersions(store)).toEqual(before);
    expect(book.size).toBe(new Set(before.map((v) => v.model)).size);

    // 2. a good document adds acme-new: the job publishes, the book reloads, ingest prices it
    const good = await track(
      await startPriceServer([serve(doc({ "acme-new": { input_cost_per_token: 3e-6, output_cost_per_token: 4e-6 } }))]),
    );
    const w2 = await worker(`pricing-${randomUUID()}`, good, channel, 2);
    expect((await settle(w2.queue, await w2.refreshNow())).state).toBe("completed");
    for (let i = 0; i < 100 && book.price(event).cost_source !== "computed"; i++) await new Promise((r) => setTimeout(r, 50));
    expect(book.price(event).cost_usd).toBeCloseTo(1_000 * 3e-6 + 10 * 4e-6, 12);
    expect(reloaded).toHaveLength(1);
  });
});
