import { describe, expect, it } from "vitest";
import { settlesWithin } from "./settles-within.js";

describe("settlesWithin", () => {
  it("is true for work that resolves, false for work that never does, and rethrows a rejection", async () => {
    expect(await settlesWithin(Promise.resolve("done"), 1_000)).toBe(true);
    expect(await settlesWithin(new Promise(() => {}), 10)).toBe(false);
    await expect(settlesWithin(Promise.reject(new Error("refused")), 1_000)).rejects.toThrow("refused");
  });
});
