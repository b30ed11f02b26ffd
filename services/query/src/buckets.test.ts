import { describe, expect, it } from "vitest";
import { bucketStart, bucketStarts, canonicalTimeZone, offsetMs } from "./buckets.js";

const iso = (ms: number) => new Date(ms).toISOString();
const at = (s: string) => Date.parse(s);

describe("buckets", () => {
  it("knows offsets on both sides of a DST change", () => {
    expect(offsetMs("America/New_York", at("2026-03-08T06:00:00Z"))).toBe(-5 * 3_600_000);
    expect(offsetMs("America/New_York", at("2026-03-08T08:00:00Z"))).toBe(-4 * 3_600_000);
    expect(offsetMs("Asia/Kolkata", at("2026-03-08T08:00:00Z"))).toBe(5.5 * 3_600_000);
  });

  it("makes days of 23 and 25 hours across DST in New York", () => {
    const days = bucketStarts("day", "America/New_York", at("2026-03-07T05:00:00Z"), at("2026-03-10T04:00:00Z")).map(iso);
    expect(days).toEqual(["2026-03-07T05:00:00.000Z", "2026-03-08T05:00:00.000Z", "2026-03-09T04:00:00.000Z"]);
    const fall = bucketStarts("day", "America/New_York", at("2026-10-31T04:00:00Z"), at("2026-11-03T05:00:00Z")).map(iso);
    expect(fall).toEqual(["2026-10-31T04:00:00.000Z", "2026-11-01T04:00:00.000Z", "2026-11-02T05:00:00.000Z"]);
  });

  it("has 23 hour buckets on the spring-forward day and 25 on the fall-back day", () => {
    expect(bucketStarts("hour", "America/New_York", at("2026-03-08T05:00:00Z"), at("2026-03-09T04:00:00Z"))).toHaveLength(23);
    expect(bucketStarts("hour", "America/New_York", at("2026-11-01T04:00:00Z"), at("2026-11-02T05:00:00Z"))).toHaveLength(25);
  });

  it("starts ISO weeks on Monday local midnight and months on the 1st", () => {
    expect(iso(bucketStart("week", "America/New_York", at("2026-03-11T12:00:00Z")))).toBe("2026-03-09T04:00:00.000Z");
    expect(iso(bucketStart("week", "UTC", at("2026-03-08T23:59:59Z")))).toBe("2026-03-02T00:00:00.000Z");
    const months = bucketStarts("month", "America/New_York", at("2026-01-15T00:00:00Z"), at("2026-04-02T00:00:00Z")).map(iso);
    expect(months).toEqual([
      "2026-01-01T05:00:00.000Z",
      "2026-02-01T05:00:00.000Z",
      "2026-03-01T05:00:00.000Z",
      "2026-04-01T04:00:00.000Z",
    ]);
  });

  it("puts hour buckets on the half hour in a half-hour zone", () => {
    expect(iso(bucketStart("hour", "Asia/Kolkata", at("2026-03-08T12:40:00Z")))).toBe("2026-03-08T12:30:00.000Z");
    expect(bucketStarts("hour", "UTC", at("2026-03-08T00:10:00Z"), at("2026-03-08T02:00:00Z")).map(iso)).toEqual([
      "2026-03-08T00:00:00.000Z",
      "2026-03-08T01:00:00.000Z",
    ]);
  });

  it("stops after max + 1 buckets", () => {
    expect(bucketStarts("hour", "UTC", 0, 400 * 86_400_000, 2000)).toHaveLength(2001);
  });

  it("canonicalizes zones and rejects unknown ones and injection", () => {
    expect(canonicalTimeZone("UTC")).toBe("UTC");
    expect(canonicalTimeZone("utc")).toBe("UTC");
    expect(canonicalTimeZone("america/new_york")).toBe("America/New_York");
    expect(canonicalTimeZone("Asia/Kolkata")).toBe("Asia/Kolkata");
    expect(canonicalTimeZone("Mars/Olympus")).toBeNull();
    expect(canonicalTimeZone("UTC'); DROP TABLE x;--")).toBeNull();
  });
});
