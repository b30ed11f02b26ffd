import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { IngestConfig, KafkaIngestConfig } from "@tokenmeter/config";
import { issueToken } from "@tokenmeter/http";
import {
  diffPrices,
  InProcessPricingUpdates,
  insertPriceVersions,
  PriceBook,
  parseLiteLlmDocument,
  planVersions,
} from "@tokenmeter/pricing";
import { madeUpDocument } from "@tokenmeter/pricing/testing";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { createIngestService, type IngestService } from "./service.js";

const SECRET = "ingest-service-test-secret-0123456789";
const dataDir = mkdtempSync(join(tmpdir(), "tokenmeter-ingest-service-"));
let store: ChdbStore;
let prices: PriceBook;
const updates = new InProcessPricingUpdates();
let service: IngestService;

async function version(doc: Record<string, unknown>, id: string, nowMs: number): Promise<void> {
  const current = await PriceBook.load(store);
  const parsed = parseLiteLlmDocument(JSON.stringify(doc));
  await insertPriceVersions(store, planVersions(diffPrices(current.current(), parsed.entries), { version: id, source: "test", nowMs }));
}

/** One acme-chat call of 1,000 input tokens, accepted through the service's routes; its stored cost. */
async function ingestOne(): Promise<{ cost_usd: number; pricing_version: string }> {
  const event_id = randomUUID();
  const body = {
    event_id,
    event_time: new Date().toISOString(),
    provider: "acme",
    model: "acme-chat",
    input_tokens: 1_000,
    output_tokens: 0,
    status_code: 200,
  };
  const res = await service.routes.request("/v1/events", {
    method: "POST",
    headers: { authorization: `Bearer ${await issueToken(SECRET, "org-a")}`, "content-type": "application/json" },
    body: JSON.stringify([body]),
  });
  expect(await res.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  const [row] = await store.query<{ cost_usd: number; pricing_version: string }>(
    "SELECT toFloat64(cost_usd) AS cost_usd, pricing_version FROM llm_usage WHERE event_id = {id:UUID}",
    { id: event_id },
  );
  return { cost_usd: Number(row?.cost_usd), pricing_version: row?.pricing_version ?? "" };
}

beforeAll(async () => {
  store = await openTestStore();
  await version(madeUpDocument(), "v1", 0);
  prices = await PriceBook.load(store);
  const env = { TOKENMETER_JWT_SECRET: SECRET, TOKENMETER_DATA_DIR: dataDir, TOKENMETER_BATCH_MAX_DELAY_MS: "20" };
  service = await createIngestService({
    config: { ...IngestConfig.parse(env), ...KafkaIngestConfig.parse({}) },
    store,
    prices,
    updates,
    auth: { jwtSecret: SECRET },
    logger: pino({ level: "silent" }),
    registry: new Registry(),
  });
});
afterAll(async () => {
  await service.stop();
  await dropTestStore(store);
  rmSync(dataDir, { recursive: true, force: true });
});

describe("createIngestService", () => {
  it("prices with the book it was given, and follows 'pricing updated' without a restart", async () => {
    expect(service.ready()).toBe(true);
    expect(await ingestOne()).toEqual({ cost_usd: expect.closeTo(1_000 * 2e-6, 12), pricing_version: "v1" });

    // A refresh elsewhere writes a new price, effective a second ago, and says so.
    await version(madeUpDocument({ "acme-chat": { input_cost_per_token: 5e-6 } }), "v2", Date.now() - 1_000);
    await updates.publish({ version: "v2", changed_models: 1 });
    for (let i = 0; i < 100 && prices.version !== "v2"; i++) await new Promise((r) => setTimeout(r, 20));

    expect(await ingestOne()).toEqual({ cost_usd: expect.closeTo(1_000 * 5e-6, 12), pricing_version: "v2" });
  });
});
