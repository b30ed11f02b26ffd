import type { ChdbStore } from "@tokenmeter/clickhouse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { diffPrices, planVersions } from "./diff.js";
import { parseLiteLlmDocument } from "./litellm.js";
import { PriceBook } from "./price-book.js";
import { insertPriceVersions, loadPriceVersions } from "./pricing-table.js";
import { madeUpDocument, usageEvent } from "./testing.js";

let store: ChdbStore;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await dropTestStore(store);
});

describe("model_pricing on the real engine", () => {
  it("round-trips versions exactly, collapses a retried insert, and reloads a PriceBook", async () => {
    const parsed = parseLiteLlmDocument(JSON.stringify(madeUpDocument()));
    const v1 = planVersions(diffPrices([], parsed.entries), { version: "v1", source: "file:a", nowMs: 0 });
    await insertPriceVersions(store, v1);
    await insertPriceVersions(store, v1);
    const loaded = await loadPriceVersions(store);
    expect(loaded).toHaveLength(v1.length);
    expect(loaded.find((v) => v.model === "acme-long")).toEqual(v1.find((v) => v.model === "acme-long"));

    const book = await PriceBook.load(store);
    const e = usageEvent({ model: "acme-chat", input_tokens: 100, output_tokens: 10 });
    expect(book.price(e).cost_usd).toBeCloseTo(100 * 2e-6 + 10 * 8e-6, 12);

    const T = Date.parse("2026-06-10T00:00:00Z");
    const next = parseLiteLlmDocument(
      JSON.stringify(madeUpDocument({ "acme-chat": { input_cost_per_token: 1e-6, output_cost_per_token: 1e-6 } })),
    );
    await insertPriceVersions(store, planVersions(diffPrices(loaded, next.entries), { version: "v2", source: "file:a", nowMs: T }));
    await book.reload();
    expect(book.price({ ...e, event_time_ms: T + 1 })).toMatchObject({ pricing_version: "v2" });
    expect(book.price({ ...e, event_time_ms: T - 1 })).toMatchObject({ pricing_version: "v1" });
  });
});
