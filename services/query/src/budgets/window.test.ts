import { describe, expect, it } from "vitest";
import { admits, forecast, judge, windowAt } from "./window.js";

const at = (s: string) => Date.parse(s);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe("windowAt", () => {
  it("a month in New York starts at local midnight of the 1st and ends at the next one", () => {
    const w = windowAt({ period: "month", tz: "America/New_York" }, at("2026-03-20T12:00:00Z"));
    // March 1 is EST (-5), April 1 is EDT (-4): the month spans a DST change.
    expect(iso(w.start)).toBe("2026-03-01T05:00:00.000Z");
    expect(iso(w.end)).toBe("2026-04-01T04:00:00.000Z");
    expect(w.resets_at).toBe(w.end);
  });

  it("one second before and after local midnight of the 1st land in different months", () => {
    const before = windowAt({ period: "month", tz: "Asia/Kolkata" }, at("2026-03-31T18:29:59Z"));
    const after = windowAt({ period: "month", tz: "Asia/Kolkata" }, at("2026-03-31T18:30:01Z"));
    expect(iso(before.start)).toBe("2026-02-28T18:30:00.000Z");
    expect(iso(before.end)).toBe("2026-03-31T18:30:00.000Z");
    expect(after.start).toBe(before.end);
  });

  it("a day across the spring-forward change is 23 hours long", () => {
    const w = windowAt({ period: "day", tz: "America/New_York" }, at("2026-03-08T15:00:00Z"));
    expect(iso(w.start)).toBe("2026-03-08T05:00:00.000Z");
    expect((w.end - w.start) / 3_600_000).toBe(23);
  });

  it("an ISO week starts on Monday 00:00 local", () => {
    const w = windowAt({ period: "week", tz: "UTC" }, at("2026-03-15T23:59:59Z")); // a Sunday
    expect(iso(w.start)).toBe("2026-03-09T00:00:00.000Z");
    expect(iso(w.end)).toBe("2026-03-16T00:00:00.000Z");
  });

  it("a rolling window is [now - N h, now), not snapped, and never resets", () => {
    const now = at("2026-03-15T10:17:23.456Z");
    const w = windowAt({ rolling_hours: 24 }, now);
    expect(w).toEqual({ start: now - 86_400_000, end: now, resets_at: null });
  });

  it("is computed from the window, so evaluating late gives the same boundaries", () => {
    const a = windowAt({ period: "day", tz: "Europe/Berlin" }, at("2026-10-25T00:00:01Z"));
    const b = windowAt({ period: "day", tz: "Europe/Berlin" }, at("2026-10-25T21:59:59Z"));
    expect(a).toEqual(b);
    expect((a.end - a.start) / 3_600_000).toBe(25); // fall-back day
  });
});

describe("forecast", () => {
  const span = { start: 0, end: 100, resets_at: 100 };
  it("projects the burn rate so far to the window's end", () => {
    expect(forecast("requests", 10, span, 25, false)).toBe(40);
    expect(forecast("cost_usd", 0.1, span, 30, false)).toBe(0.333333);
  });
  it("a rolling window projects what it holds", () => {
    expect(forecast("cost_usd", 1.5, span, 30, true)).toBe(1.5);
  });
});

describe("judge", () => {
  it("warning from the lowest threshold below 100, exceeded at the limit", () => {
    expect(judge("requests", 49, 100, [50, 80, 100]).state).toBe("ok");
    expect(judge("requests", 50, 100, [50, 80, 100]).state).toBe("warning");
    expect(judge("requests", 100, 100, [50, 80, 100])).toEqual({ remaining: 0, pct: 100, state: "exceeded" });
  });
  it("without a threshold below 100 it stays ok until exceeded", () => {
    expect(judge("cost_usd", 99.99, 100, [100]).state).toBe("ok");
    expect(judge("cost_usd", 1.2345678, 10, [100]).remaining).toBe(8.765432);
  });
});

describe("admits", () => {
  it("refuses at or over the limit, lets a call that fits exactly through", () => {
    expect(admits(10, 0, 0, 10)).toBe(false);
    expect(admits(9, 0, 1, 10)).toBe(true);
    expect(admits(9, 0, 2, 10)).toBe(false);
    expect(admits(5, 4, 1, 10)).toBe(true);
    expect(admits(5, 5, 0, 10)).toBe(false);
  });
});
