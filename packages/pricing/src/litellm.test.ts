import { describe, expect, it } from "vitest";
import { PricingDocumentError, parseLiteLlmDocument } from "./litellm.js";
import { madeUpDocument } from "./testing.js";

describe("parseLiteLlmDocument", () => {
  it("reads token prices, cache, reasoning and tiers, and unit-priced models (v1.1); skips sample_spec", () => {
    const { entries, sha256 } = parseLiteLlmDocument(JSON.stringify(madeUpDocument()));
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(entries.map((e) => e.model).sort()).toEqual([
      "acme-cache",
      "acme-chat",
      "acme-image",
      "acme-long",
      "acme-think",
      "globex/embed-1",
    ]);
    expect(entries.find((e) => e.model === "acme-image")?.prices.units).toEqual({ image: 0.04 });
    const long = entries.find((e) => e.model === "acme-long");
    expect(long?.prices).toEqual({
      input: 1.25e-6,
      output: 10e-6,
      cache_read: 3.1e-7,
      cache_write: null,
      reasoning: null,
      tiers: [{ above_input_tokens: 200_000, input: 2.5e-6, output: 15e-6, cache_read: 6.2e-7, cache_write: null }],
    });
    expect(entries.find((e) => e.model === "acme-think")?.prices.reasoning).toBe(9.9e-6);
    expect(entries.find((e) => e.model === "globex/embed-1")).toMatchObject({ provider: "globex", mode: "embedding" });
  });

  it("reads thresholds written without k and several tiers in order", () => {
    const doc = madeUpDocument({
      "acme-tiers": {
        input_cost_per_token: 1e-6,
        output_cost_per_token: 2e-6,
        input_cost_per_token_above_256k_tokens: 3e-6,
        input_cost_per_token_above_128000_tokens: 2e-6,
        input_cost_per_token_above_256k_tokens_priority: 9e-6,
      },
    });
    const e = parseLiteLlmDocument(JSON.stringify(doc)).entries.find((x) => x.model === "acme-tiers");
    expect(e?.prices.tiers.map((t) => [t.above_input_tokens, t.input])).toEqual([
      [128_000, 2e-6],
      [256_000, 3e-6],
    ]);
  });

  it("reads the tiered_pricing range style as base prices plus above-threshold tiers", () => {
    const doc = madeUpDocument({
      "acme-range": {
        litellm_provider: "acme",
        mode: "chat",
        tiered_pricing: [
          { input_cost_per_token: 2.5e-7, output_cost_per_token: 2e-6, range: [256000, 1000000] },
          { input_cost_per_token: 5e-8, output_cost_per_token: 4e-7, range: [0, 256000] },
        ],
      },
    });
    const e = parseLiteLlmDocument(JSON.stringify(doc)).entries.find((x) => x.model === "acme-range");
    expect(e?.prices).toEqual({
      input: 5e-8,
      output: 4e-7,
      cache_read: null,
      cache_write: null,
      reasoning: null,
      tiers: [{ above_input_tokens: 256_000, input: 2.5e-7, output: 2e-6, cache_read: null, cache_write: null }],
    });
  });

  it("rejects the whole document for one bad price, and says where", () => {
    const doc = madeUpDocument({ "acme-bad": { input_cost_per_token: "cheap", output_cost_per_token: -1 } });
    expect(() => parseLiteLlmDocument(JSON.stringify(doc))).toThrow(PricingDocumentError);
    try {
      parseLiteLlmDocument(JSON.stringify(doc));
    } catch (err) {
      expect((err as PricingDocumentError).problems.map((p) => p.split(":")[0])).toEqual([
        "acme-bad.input_cost_per_token",
        "acme-bad.output_cost_per_token",
      ]);
    }
  });

  it("rejects truncated JSON, non-objects and documents with too few models", () => {
    const text = JSON.stringify(madeUpDocument());
    expect(() => parseLiteLlmDocument(text.slice(0, text.length / 2))).toThrow(/not JSON/);
    expect(() => parseLiteLlmDocument("[1,2]")).toThrow(/not a JSON object/);
    expect(() => parseLiteLlmDocument(text, { minModels: 50 })).toThrow(/only 6 priced models/);
  });
});

describe("bundled snapshot", () => {
  it("parses whole and prices the mainstream models offline", async () => {
    const { readBundledSnapshot } = await import("./snapshot.js");
    const { entries } = parseLiteLlmDocument(readBundledSnapshot(), { minModels: 50 });
    const names = new Set(entries.map((e) => e.model));
    for (const m of [
      "gpt-4o",
      "gpt-4o-mini",
      "claude-sonnet-4-5",
      "gemini/gemini-2.5-pro",
      "mistral/mistral-large-latest",
      "text-embedding-3-small",
    ]) {
      expect(names.has(m), m).toBe(true);
    }
  });
});
