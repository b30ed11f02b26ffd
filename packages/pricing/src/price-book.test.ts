import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { diffPrices, planVersions } from "./diff.js";
import { parseLiteLlmDocument } from "./litellm.js";
import { PriceBook } from "./price-book.js";
import type { PriceVersion } from "./pricing-table.js";
import { madeUpDocument, usageEvent } from "./testing.js";

/** Writes the made-up price list to a file and loads it the way a refresh would. */
function bookFromFile(doc: Record<string, unknown>, version = "v1", effectiveFromMs = 0): { book: PriceBook; versions: PriceVersion[] } {
  const file = join(mkdtempSync(join(tmpdir(), "prices-")), "prices.json");
  writeFileSync(file, JSON.stringify(doc));
  const parsed = parseLiteLlmDocument(readFileSync(file, "utf8"));
  const versions = planVersions(diffPrices([], parsed.entries), { version, source: file, nowMs: 0, addedEffectiveFromMs: effectiveFromMs });
  return { book: new PriceBook(versions), versions };
}

const TOL = 1e-9;

describe("PriceBook", () => {
  const { book } = bookFromFile(madeUpDocument());

  it("computes plain usage as tokens × prices", () => {
    const c = book.price(usageEvent({ model: "acme-chat", input_tokens: 12_345, output_tokens: 678 }));
    expect(c.cost_source).toBe("computed");
    expect(c.pricing_version).toBe("v1");
    expect(Math.abs(c.cost_usd - (12_345 * 2e-6 + 678 * 8e-6))).toBeLessThan(TOL);
  });

  it("computes cached and cache-write usage", () => {
    const e = usageEvent({
      model: "acme-cache",
      input_tokens: 50_000,
      cached_input_tokens: 30_000,
      cache_write_tokens: 5_000,
      output_tokens: 900,
    });
    const want = 15_000 * 3e-6 + 30_000 * 3e-7 + 5_000 * 3.75e-6 + 900 * 15e-6;
    expect(Math.abs(book.price(e).cost_usd - want)).toBeLessThan(TOL);
  });

  it("computes reasoning usage at the reasoning price", () => {
    const e = usageEvent({ model: "acme-think", input_tokens: 1_000, output_tokens: 7_000, reasoning_tokens: 6_000 });
    const want = 1_000 * 1.1e-6 + 1_000 * 4.4e-6 + 6_000 * 9.9e-6;
    expect(Math.abs(book.price(e).cost_usd - want)).toBeLessThan(TOL);
  });

  it("computes tiered usage: below, at and above the threshold", () => {
    const at = (input: number, cached: number) =>
      book.price(usageEvent({ model: "acme-long", input_tokens: input, cached_input_tokens: cached, output_tokens: 2_000 })).cost_usd;
    expect(Math.abs(at(200_000, 100_000) - (100_000 * 1.25e-6 + 100_000 * 3.1e-7 + 2_000 * 10e-6))).toBeLessThan(TOL);
    expect(Math.abs(at(250_000, 100_000) - (150_000 * 2.5e-6 + 100_000 * 6.2e-7 + 2_000 * 15e-6))).toBeLessThan(TOL);
  });

  it("keeps a reported cost and marks an unknown model unpriced", () => {
    expect(book.price(usageEvent({ cost_usd: 0.42, input_tokens: 10 }))).toEqual({
      cost_usd: 0.42,
      cost_source: "reported",
      pricing_version: "",
    });
    expect(book.price(usageEvent({ model: "mystery-1", input_tokens: 10 }))).toEqual({
      cost_usd: 0,
      cost_source: "unpriced",
      pricing_version: "",
    });
  });

  it("prices events before T with the old price and from T on with the new one", () => {
    const T = Date.parse("2026-06-15T00:00:00Z");
    const { versions: v1 } = bookFromFile(madeUpDocument(), "v1");
    const next = parseLiteLlmDocument(
      JSON.stringify(
        madeUpDocument({ "acme-chat": { litellm_provider: "acme", input_cost_per_token: 5e-6, output_cost_per_token: 20e-6 } }),
      ),
    );
    const diff = diffPrices(v1, next.entries);
    expect(diff.changed.map((e) => e.model)).toEqual(["acme-chat"]);
    expect(diff.unchanged).toBe(5);
    const changed = new PriceBook([...v1, ...planVersions(diff, { version: "v2", source: "test", nowMs: T })]);
    const e = (ms: number) => usageEvent({ event_time_ms: ms, input_tokens: 1_000, output_tokens: 100 });
    expect(changed.price(e(T - 1))).toMatchObject({ pricing_version: "v1" });
    expect(Math.abs(changed.price(e(T - 1)).cost_usd - (1_000 * 2e-6 + 100 * 8e-6))).toBeLessThan(TOL);
    expect(changed.price(e(T))).toMatchObject({ pricing_version: "v2" });
    expect(Math.abs(changed.price(e(T)).cost_usd - (1_000 * 5e-6 + 100 * 20e-6))).toBeLessThan(TOL);
    expect(changed.version).toBe("v2");
    expect(changed.current().find((v) => v.model === "acme-chat")?.version).toBe("v2");
  });

  it("leaves events before a model's first price unpriced", () => {
    const { book: late } = bookFromFile(madeUpDocument(), "v1", Date.parse("2026-06-01T00:00:00Z"));
    expect(late.price(usageEvent({ event_time_ms: Date.parse("2026-05-31T23:59:59Z") })).cost_source).toBe("unpriced");
  });
});
