import { describe, expect, it } from "vitest";
import { candidateKeys, stripDate } from "./normalize.js";
import { PriceBook } from "./price-book.js";

describe("model-name normalization", () => {
  it("strips one trailing release date in the usual spellings", () => {
    expect(stripDate("gpt-4o-2024-11-20")).toBe("gpt-4o");
    expect(stripDate("claude-3-5-sonnet-20241022")).toBe("claude-3-5-sonnet");
    expect(stripDate("claude-3-5-sonnet@20240620")).toBe("claude-3-5-sonnet");
    expect(stripDate("gpt-3.5-turbo-0125")).toBe("gpt-3.5-turbo");
    expect(stripDate("gpt-4o")).toBe("gpt-4o");
    expect(stripDate("gpt-4-32k")).toBe("gpt-4-32k");
    expect(stripDate("llama-3.1-8b")).toBe("llama-3.1-8b");
  });

  it("tries provider-specific, exact, prefix-free, then dated-variant keys", () => {
    expect(candidateKeys("OpenAI", "openai/GPT-4o-2024-11-20")).toEqual([
      "openai/GPT-4o-2024-11-20",
      "openai/gpt-4o-2024-11-20",
      "GPT-4o-2024-11-20",
      "gpt-4o-2024-11-20",
      "openai/GPT-4o",
      "openai/GPT-4o-latest",
      "openai/gpt-4o",
      "openai/gpt-4o-latest",
      "GPT-4o",
      "GPT-4o-latest",
      "gpt-4o",
      "gpt-4o-latest",
    ]);
  });

  const book = (models: string[]) =>
    new PriceBook(
      models.map((model) => ({
        model,
        provider: "",
        mode: "chat",
        effective_from_ms: 0,
        version: "v1",
        source: "test",
        prices: { input: 1, output: 1, cache_read: null, cache_write: null, reasoning: null, tiers: [] },
      })),
    );

  it("maps a dated variant to its base only when there is no exact entry", () => {
    expect(book(["gpt-4o"]).resolve("openai", "gpt-4o-2024-11-20")).toBe("gpt-4o");
    expect(book(["gpt-4o", "gpt-4o-2024-05-13"]).resolve("openai", "gpt-4o-2024-05-13")).toBe("gpt-4o-2024-05-13");
    expect(book(["claude-3-5-sonnet-latest"]).resolve("anthropic", "claude-3-5-sonnet-20991231")).toBe("claude-3-5-sonnet-latest");
  });

  it("prefers the provider's own entry, strips routing prefixes, ignores case", () => {
    const b = book(["gpt-4o", "azure/gpt-4o", "gemini/gemini-1.5-pro"]);
    expect(b.resolve("azure", "gpt-4o")).toBe("azure/gpt-4o");
    expect(b.resolve("openai", "openai/GPT-4o")).toBe("gpt-4o");
    expect(b.resolve("gemini", "models/gemini-1.5-pro")).toBe("gemini/gemini-1.5-pro");
    expect(b.resolve("acme", "nobody-knows-me")).toBeNull();
  });
});
