import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseLiteLlmDocument } from "./litellm.js";
import { PriceBook } from "./price-book.js";
import { snapshotSubset } from "./regenerate-snapshot.js";
import { BUNDLED_SNAPSHOT_PATH, readBundledSnapshot } from "./snapshot.js";
import { usageEvent } from "./testing.js";

// The bundled snapshot is LiteLLM's full list (every chat / embedding / image /
// audio / rerank / search entry), and the costs Tokenmeter computes from it,
// checked against arithmetic done here on the file's own entries.
type Entry = Record<string, number | Record<string, number> | string | undefined>;
const file = JSON.parse(readFileSync(BUNDLED_SNAPSHOT_PATH, "utf8")) as Record<string, Entry>;
const num = (model: string, key: string): number => {
  const v = file[model]?.[key];
  if (typeof v !== "number") throw new Error(`${model}.${key} is not in the bundled file`);
  return v;
};

const searchMedium = (model: string): number => {
  const v = (file[model]?.search_context_cost_per_query as Record<string, number> | undefined)?.search_context_size_medium;
  if (typeof v !== "number") throw new Error(`${model} has no medium search context price`);
  return v;
};

describe("bundled LiteLLM snapshot", () => {
  it("holds thousands of entries, every one of which parses with a price", () => {
    const keys = Object.keys(file);
    expect(keys.length).toBeGreaterThan(2500);
    for (const model of keys) {
      const { entries } = parseLiteLlmDocument(JSON.stringify({ [model]: file[model] }), { minModels: 0 });
      expect(
        entries.map((e) => e.model),
        model,
      ).toEqual([model]);
    }
    expect(parseLiteLlmDocument(readBundledSnapshot()).entries).toHaveLength(keys.length);
    // Every mode the events' operations need is there.
    const modes = new Set(keys.map((k) => file[k]?.mode));
    for (const m of ["chat", "embedding", "image_generation", "audio_transcription", "audio_speech", "rerank", "search"])
      expect(modes).toContain(m);
  });

  it("is what the regeneration script makes of it (idempotent)", () => {
    const again = snapshotSubset(readBundledSnapshot());
    expect(again.dropped).toEqual([]);
    expect(again.document).toEqual(file);
  });
});

describe("costs from the bundled prices, to 1e-9 USD", () => {
  const book = new PriceBook(
    parseLiteLlmDocument(readBundledSnapshot()).entries.map((e) => ({ ...e, effective_from_ms: 0, version: "bundled", source: "test" })),
  );
  const price = (over: Parameters<typeof usageEvent>[0]) => book.price(usageEvent(over));

  it.each([
    [
      "an image call, hd quality 1024x1024 variant, per pixel",
      { provider: "openai", model: "dall-e-3", operation: "image", image_size: "1024x1024", image_quality: "hd", units: { images: 2 } },
      () => num("hd/1024-x-1024/dall-e-3", "input_cost_per_pixel") * 1024 * 1024 * 2,
    ],
    [
      "an image call with a size variant only",
      { provider: "openai", model: "dall-e-2", operation: "image", image_size: "1024x1024", units: { images: 3 } },
      () => num("1024-x-1024/dall-e-2", "input_cost_per_pixel") * 1024 * 1024 * 3,
    ],
    [
      "a transcription by audio seconds",
      { provider: "openai", model: "whisper-1", operation: "audio", units: { audio_input_seconds: 93.5 } },
      () => num("whisper-1", "input_cost_per_second") * 93.5,
    ],
    [
      "a speech call by characters",
      { provider: "openai", model: "tts-1", operation: "audio", units: { characters: 1234 } },
      () => num("tts-1", "input_cost_per_character") * 1234,
    ],
    [
      "a rerank by queries",
      { provider: "cohere", model: "rerank-v3.5", operation: "rerank", units: { queries: 3 } },
      () => num("rerank-v3.5", "input_cost_per_query") * 3,
    ],
    [
      "a batch-tier chat call (cache reads at the standard price: no batch cache price)",
      { provider: "openai", model: "gpt-4o", service_tier: "batch", input_tokens: 10_000, cached_input_tokens: 2_000, output_tokens: 500 },
      () =>
        8_000 * num("gpt-4o", "input_cost_per_token_batches") +
        2_000 * num("gpt-4o", "cache_read_input_token_cost") +
        500 * num("gpt-4o", "output_cost_per_token_batches"),
    ],
    [
      "a flex call on a model without flex prices (standard prices)",
      { provider: "openai", model: "gpt-4o", service_tier: "flex", input_tokens: 1_000, output_tokens: 100 },
      () => 1_000 * num("gpt-4o", "input_cost_per_token") + 100 * num("gpt-4o", "output_cost_per_token"),
    ],
    [
      "a chat call with web search (medium context)",
      { provider: "openai", model: "gpt-4o-search-preview", input_tokens: 1_200, output_tokens: 300, units: { web_searches: 2 } },
      () =>
        1_200 * num("gpt-4o-search-preview", "input_cost_per_token") +
        300 * num("gpt-4o-search-preview", "output_cost_per_token") +
        2 * searchMedium("gpt-4o-search-preview"),
    ],
  ] as const)("%s", (_name, over, want) => {
    const c = price(over as Parameters<typeof usageEvent>[0]);
    expect(c.cost_source).toBe("computed");
    expect(Math.abs(c.cost_usd - want())).toBeLessThanOrEqual(1e-9);
    // The breakdown adds up to the cost.
    const b = c.breakdown!;
    expect(Math.abs(b.input + b.cached_input + b.cache_write + b.output + b.reasoning + b.units - c.cost_usd)).toBeLessThanOrEqual(1e-12);
  });

  it("leaves a call unpriced when a unit it carries has no price, never $0", () => {
    expect(price({ provider: "openai", model: "gpt-4o", input_tokens: 10, units: { images: 1 } })).toMatchObject({
      cost_source: "unpriced",
    });
    expect(price({ provider: "openai", model: "whisper-1", units: { characters: 10 } })).toMatchObject({ cost_source: "unpriced" });
    // A per-pixel price needs the size: the variant exists only per size.
    expect(book.lookup("openai", "dall-e-2", 0, ["1024-x-1024/"])?.model).toBe("1024-x-1024/dall-e-2");
  });
});
