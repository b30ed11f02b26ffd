import type { ChdbStore } from "@tokenmeter/clickhouse";
import { InProcessPricingUpdates, loadPriceVersions, PricingDocumentError, type PricingUpdate } from "@tokenmeter/pricing";
import { madeUpDocument } from "@tokenmeter/pricing/testing";
import pino from "pino";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { createPricingMetrics } from "./metrics.js";
import { runPricingRefresh } from "./refresh.js";
import { seedBundledPrices } from "./seed.js";
import type { PriceSource } from "./sources/index.js";

const logger = pino({ level: "silent" });
let store: ChdbStore;
beforeEach(async () => {
  store = await openTestStore();
});
afterEach(async () => {
  await dropTestStore(store);
});

/** A source serving whatever the test last put in it. */
function scripted(name = "test:prices"): PriceSource & { text: string } {
  return {
    name,
    text: JSON.stringify(madeUpDocument()),
    async fetch() {
      return this.text;
    },
  };
}

function deps(source: PriceSource, updates = new InProcessPricingUpdates(), metrics = createPricingMetrics(new Registry())) {
  return { store, source, updates, logger, metrics };
}

const T0 = Date.parse("2026-06-01T00:00:00Z");
const T1 = Date.parse("2026-06-02T00:00:00Z");

describe("runPricingRefresh", () => {
  it("writes new models from the epoch, then only changed models from now, and publishes each time", async () => {
    const source = scripted();
    const updates = new InProcessPricingUpdates();
    const got: PricingUpdate[] = [];
    await updates.subscribe((u) => got.push(u));
    const first = await runPricingRefresh({ ...deps(source, updates), now: () => T0 });
    expect(first).toMatchObject({ added: 6, changed: 0, unchanged: 0 });
    expect((await loadPriceVersions(store)).every((v) => v.effective_from_ms === 0 && v.version === first.version)).toBe(true);

    const same = await runPricingRefresh({ ...deps(source, updates), now: () => T1 });
    expect(same).toMatchObject({ added: 0, changed: 0, unchanged: 6 });

    source.text = JSON.stringify(madeUpDocument({ "acme-chat": { input_cost_per_token: 4e-6, output_cost_per_token: 8e-6 } }));
    const changed = await runPricingRefresh({ ...deps(source, updates), now: () => T1 });
    expect(changed).toMatchObject({ added: 0, changed: 1, unchanged: 5 });
    const chat = (await loadPriceVersions(store)).filter((v) => v.model === "acme-chat");
    expect(chat.map((v) => [v.effective_from_ms, v.prices.input])).toEqual([
      [0, 2e-6],
      [T1, 4e-6],
    ]);
    expect(got.map((u) => u.changed_models)).toEqual([6, 1]);
  });

  it("rejects a malformed document whole, keeps the last good prices, and counts it", async () => {
    const source = scripted();
    const registry = new Registry();
    const metrics = createPricingMetrics(registry);
    await runPricingRefresh({ ...deps(source, undefined, metrics), now: () => T0 });
    const before = await loadPriceVersions(store);

    source.text = JSON.stringify(
      madeUpDocument({
        "acme-chat": { input_cost_per_token: -1, output_cost_per_token: 1e-6 },
        "acme-new": { input_cost_per_token: 1e-6 },
      }),
    );
    await expect(runPricingRefresh({ ...deps(source, undefined, metrics), now: () => T1 })).rejects.toBeInstanceOf(PricingDocumentError);
    source.text = source.text.slice(0, 100);
    await expect(runPricingRefresh({ ...deps(source, undefined, metrics), now: () => T1 })).rejects.toThrow(/not JSON/);

    expect(await loadPriceVersions(store)).toEqual(before);
    expect(await registry.getSingleMetricAsString("tokenmeter_pricing_refresh_runs_total")).toMatch(/outcome="rejected"} 2/);
  });

  it("rejects a partial document that lost most of its source's models", async () => {
    const source = scripted();
    await runPricingRefresh({ ...deps(source), now: () => T0 });
    source.text = JSON.stringify({ "acme-chat": { input_cost_per_token: 9e-6, output_cost_per_token: 9e-6 } });
    await expect(runPricingRefresh({ ...deps(source), now: () => T1 })).rejects.toThrow(/partial document: 5 of 6/);
    // Another source pricing fewer models is not "partial": it never priced the others.
    const other = scripted("file:/etc/own-prices.json");
    other.text = source.text;
    await expect(runPricingRefresh({ ...deps(other), now: () => T1 })).resolves.toMatchObject({ changed: 1 });
  });

  it("seeds the bundled snapshot into an empty table only", async () => {
    const seeded = await seedBundledPrices(store, logger);
    expect(seeded?.added).toBeGreaterThan(50);
    expect(await seedBundledPrices(store, logger)).toBeNull();
  });
});
