import { validateEvent } from "@tokenmeter/core";
import { describe, expect, it } from "vitest";
import { demoEvents } from "./demo.js";

describe("demoEvents", () => {
  const end = Date.parse("2026-06-01T00:00:00Z");
  const all = [...demoEvents({ events: 20_000, end })].flat();

  it("produces about the requested number of valid events over 90 days", () => {
    expect(all.length).toBeGreaterThan(14_000);
    expect(all.length).toBeLessThan(26_000);
    const invalid = all.map((e) => validateEvent(e, { now: end })).filter((r) => !r.ok);
    expect(invalid).toEqual([]);
    const times = all.map((e) => Date.parse(e.event_time));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(end - 90 * 86_400_000);
    expect(Math.max(...times)).toBeLessThan(end);
  });

  it("is deterministic and varied (orgs, models, errors, unique ids)", () => {
    const again = [...demoEvents({ events: 20_000, end })].flat();
    expect(again[100]).toEqual(all[100]);
    expect(new Set(all.map((e) => e.org_id)).size).toBe(3);
    expect(new Set(all.map((e) => e.model)).size).toBeGreaterThanOrEqual(7);
    expect(new Set(all.map((e) => e.event_id)).size).toBe(all.length);
    const errors = all.filter((e) => e.status_code >= 400).length / all.length;
    expect(errors).toBeGreaterThan(0.005);
    expect(errors).toBeLessThan(0.1);
  });
});
