import { describe, expect, it } from "vitest";
import { backoffMs } from "./write-plan.js";

describe("backoff", () => {
  it("doubles from the minimum, is capped, and keeps half of the ceiling fixed", () => {
    expect([1, 2, 3, 10].map((n) => backoffMs(n, 100, 1_000, () => 0))).toEqual([50, 100, 200, 500]);
    expect(backoffMs(10, 100, 1_000, () => 1)).toBe(1_000);
  });
});
