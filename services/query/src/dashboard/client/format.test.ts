import { describe, expect, it } from "vitest";
import { msAxis, niceAxis, plural, share, usd } from "./format.js";

describe("dashboard number formats", () => {
  it("money keeps enough significant digits: never $0.00 or $0.0000 for a non-zero amount", () => {
    expect(usd(0)).toBe("$0.00");
    expect(usd(330.184)).toBe("$330.18");
    expect(usd(0.676)).toBe("$0.68");
    expect(usd(0.0101)).toBe("$0.0101");
    expect(usd(0.000045)).toBe("$0.000045");
    expect(usd(0.004174)).toBe("$0.00417");
    expect(usd(0.00000012)).toBe("$0.00000012");
  });

  it("singular and plural", () => {
    expect(plural(1, "error")).toBe("1 error");
    expect(plural(0, "error")).toBe("0 errors");
    expect(plural(1204, "error")).toBe("1,204 errors");
  });

  it("one percent style", () => {
    expect(share(42.9)).toBe("42.9%");
  });

  it("nice axes: distinct ticks, the top just above the data, whole steps for counts", () => {
    for (const max of [1, 3, 7, 0.53, 0.0042, 13, 1234, 98_765, 2.6e6]) {
      const a = niceAxis(max);
      expect(a.max).toBeGreaterThanOrEqual(max);
      expect(a.max / a.step).toBeLessThanOrEqual(4.000001);
      expect(a.max).toBeLessThan(max * 2.6);
    }
    expect(niceAxis(3, 4, true)).toEqual({ step: 1, max: 3 });
    expect(niceAxis(1, 4, true)).toEqual({ step: 1, max: 1 });
    expect(niceAxis(0.6)).toEqual({ step: 0.2, max: 0.6 });
  });

  it("a latency axis has one unit", () => {
    const top = 10_000;
    const { step } = niceAxis(top);
    expect([0, 2500, 5000, 7500, 10_000].map((v) => msAxis(v, top, step))).toEqual(["0.0 s", "2.5 s", "5.0 s", "7.5 s", "10.0 s"]);
    expect([0, 10, 20].map((v) => msAxis(v, 20, 10))).toEqual(["0 ms", "10 ms", "20 ms"]);
  });
});
