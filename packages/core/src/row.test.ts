import { describe, expect, it } from "vitest";
import { fromClickHouseTime, toClickHouseTime } from "./row.js";

describe("ClickHouse time text", () => {
  it("writes 'YYYY-MM-DD hh:mm:ss.sss' in UTC, exactly as toISOString would, and reads it back", () => {
    const iso = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");
    const start = Date.parse("1969-12-30T23:59:59.999Z");
    // Days apart, sub-second and odd steps, both sides of the epoch and of leap days.
    for (let i = 0; i < 20_000; i++) {
      const ms = start + i * 170_003_337 + (i % 1_000);
      expect(toClickHouseTime(ms)).toBe(iso(ms));
      expect(fromClickHouseTime(toClickHouseTime(ms))).toBe(ms);
    }
    expect(toClickHouseTime(Date.parse("2028-02-29T00:00:00.000Z"))).toBe("2028-02-29 00:00:00.000");
    expect(toClickHouseTime(Date.parse("2026-12-31T23:59:59.999Z"))).toBe("2026-12-31 23:59:59.999");
  });
});
