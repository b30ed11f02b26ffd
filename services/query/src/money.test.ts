import { describe, expect, it } from "vitest";
import { picos, sharePct, usdOf, usdPer } from "./money.js";

describe("exact money", () => {
  it("parses the store's decimal text and sums without float error", () => {
    const parts = ["0.1", "0.2", "0.000000000001", "2100.1", "0"].map(picos);
    expect(parts.reduce((a, b) => a + b, 0n)).toBe(2100_400000000001n);
    expect(picos("12")).toBe(12_000000000000n);
    expect(() => picos("1e-7")).toThrow(/not a decimal/);
  });

  it("rounds half up to 6 decimals, the same digits whatever the order of the sum", () => {
    expect(usdOf(picos("0.1234565"))).toBe(0.123457);
    expect(usdOf(picos("0.1234564999999"))).toBe(0.123456);
    expect(usdOf(picos("999999999999.9999995"))).toBe(1_000_000_000_000);
    expect(JSON.stringify(usdOf(picos("0.3")))).toBe("0.3");
    expect(usdPer(picos("1"), 3)).toBe(0.333333);
    expect(usdPer(picos("1"), 0)).toBe(0);
    expect(sharePct(picos("1"), picos("3"))).toBe(33.33);
  });
});
