import { parseApiKeys } from "@tokenmeter/http";
import { describe, expect, it } from "vitest";
import { loadQueryConfig } from "./config.js";

describe("query config", () => {
  it("reports every problem at once", () => {
    const r = loadQueryConfig({ TOKENMETER_JWT_SECRET: "short", TOKENMETER_REDIS_URL: "not a url", TOKENMETER_PORT: "x" });
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.errors.map((e) => e.split(/[=:]/)[0])).toEqual(["TOKENMETER_PORT", "TOKENMETER_JWT_SECRET", "TOKENMETER_REDIS_URL"]);
  });

  it("echoes the bad value (never a secret's) and says required for a missing one", () => {
    const r = loadQueryConfig({ TOKENMETER_JWT_SECRET: "short", TOKENMETER_PORT: "80x" });
    expect(r.ok || r.errors).toEqual([
      'TOKENMETER_PORT="80x": must be a number',
      "TOKENMETER_JWT_SECRET=(5 characters, not shown): must be at least 32 characters",
    ]);
    const missing = loadQueryConfig({});
    expect(missing.ok || missing.errors).toEqual(["TOKENMETER_JWT_SECRET: required"]);
  });

  it("defaults to the embedded store and the memory cache", () => {
    const r = loadQueryConfig({ TOKENMETER_JWT_SECRET: "s".repeat(32), TOKENMETER_REDIS_URL: "" });
    expect(r.ok && r.config.TOKENMETER_REDIS_URL).toBeUndefined();
    expect(r.ok && r.config.TOKENMETER_PORT).toBe(8080);
    expect(parseApiKeys(`${"a".repeat(64)}:org-a`)).toEqual({ ["a".repeat(64)]: "org-a" });
  });
});
