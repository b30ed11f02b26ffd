import { describe, expect, it } from "vitest";
import { computeCost, effectivePrices, type ModelPrices, usdText } from "./cost.js";

const plain: ModelPrices = { input: 3e-6, output: 15e-6, cache_read: 0.3e-6, cache_write: 3.75e-6, reasoning: null, tiers: [] };
const usage = { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 };

describe("computeCost", () => {
  it("prices plain input and output tokens", () => {
    expect(computeCost(plain, { ...usage, input_tokens: 1000, output_tokens: 200 })).toBeCloseTo(1000 * 3e-6 + 200 * 15e-6, 12);
  });

  it("prices cached and cache-write tokens at their own rates, out of input_tokens", () => {
    const cost = computeCost(plain, { ...usage, input_tokens: 1000, cached_input_tokens: 600, cache_write_tokens: 100, output_tokens: 10 });
    expect(cost).toBeCloseTo(300 * 3e-6 + 600 * 0.3e-6 + 100 * 3.75e-6 + 10 * 15e-6, 12);
  });

  it("bills cache tokens at the input price when the model has no cache prices", () => {
    const noCache = { ...plain, cache_read: null, cache_write: null };
    expect(computeCost(noCache, { ...usage, input_tokens: 100, cached_input_tokens: 50, cache_write_tokens: 20 })).toBeCloseTo(
      100 * 3e-6,
      12,
    );
  });

  it("prices reasoning tokens at the reasoning price if given, else the output price", () => {
    const u = { ...usage, input_tokens: 10, output_tokens: 500, reasoning_tokens: 400 };
    expect(computeCost(plain, u)).toBeCloseTo(10 * 3e-6 + 500 * 15e-6, 12);
    expect(computeCost({ ...plain, reasoning: 60e-6 }, u)).toBeCloseTo(10 * 3e-6 + 100 * 15e-6 + 400 * 60e-6, 12);
  });

  it("switches the whole call to a tier when the prompt exceeds its threshold (strictly)", () => {
    const tiered: ModelPrices = {
      ...plain,
      tiers: [
        { above_input_tokens: 128_000, input: 4e-6, output: null, cache_read: null, cache_write: null },
        { above_input_tokens: 200_000, input: 6e-6, output: 22.5e-6, cache_read: 0.6e-6, cache_write: null },
      ],
    };
    const at = (input: number, cached = 0) =>
      computeCost(tiered, { ...usage, input_tokens: input, cached_input_tokens: cached, output_tokens: 1000 });
    expect(at(128_000)).toBeCloseTo(128_000 * 3e-6 + 1000 * 15e-6, 12);
    expect(at(128_001)).toBeCloseTo(128_001 * 4e-6 + 1000 * 15e-6, 12);
    expect(at(200_001, 1)).toBeCloseTo(200_000 * 6e-6 + 1 * 0.6e-6 + 1000 * 22.5e-6, 12);
    expect(effectivePrices(tiered, 250_000).cache_write).toBe(3.75e-6);
  });

  it("never bills negative or double when counts disagree", () => {
    expect(computeCost(plain, { ...usage, input_tokens: 10, cached_input_tokens: 50, output_tokens: 1, reasoning_tokens: 5 })).toBeCloseTo(
      10 * 0.3e-6 + 1 * 15e-6,
      12,
    );
  });
});

describe("usdText", () => {
  it("writes the 12-decimal rounding of the double, without trailing zeros or an exponent", () => {
    expect(usdText(0)).toBe("0");
    expect(usdText(0.0030849999999999996)).toBe("0.003085");
    expect(usdText(1e-7)).toBe("0.0000001");
    expect(usdText(2)).toBe("2");
    expect(usdText(1234.5)).toBe("1234.5");
    expect(usdText(1.23456789012345)).toBe("1.234567890123");
    expect(() => usdText(-1)).toThrow(RangeError);
  });
});
