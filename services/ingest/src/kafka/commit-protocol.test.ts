import { retryDelayMs } from "@tokenmeter/core";
import { describe, expect, it } from "vitest";

// The consumer's store and broker retries use core's one backoff formula (the batching writer's too).
describe("backoff", () => {
  it("doubles from the minimum, is capped, and keeps half of the ceiling fixed", () => {
    const retry = { retryMinMs: 100, retryMaxMs: 1_000 };
    expect([1, 2, 3, 10].map((n) => retryDelayMs(n, retry, () => 0))).toEqual([50, 100, 200, 500]);
    expect(retryDelayMs(10, retry, () => 1)).toBe(1_000);
  });
});
