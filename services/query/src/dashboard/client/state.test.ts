import { describe, expect, it } from "vitest";
import { allowedGranularity, pickGranularity, readState, resolveRange, writeState } from "./state.js";
import { localMidnight, startOfHour } from "./time.js";

const iso = (ms: number) => new Date(ms).toISOString();

describe("view state in the URL", () => {
  it("round-trips every field and drops what is invalid", () => {
    const s = readState(
      "?range=custom&from=2026-03-01&to=2026-03-31&gran=week&tz=Europe/Berlin&provider=openai&model=gpt-4o&model=gpt-4o-mini&operation=chat&tag.team=growth&group=model&sort=requests:asc",
    );
    expect(s).toEqual({
      range: "custom",
      from: "2026-03-01",
      to: "2026-03-31",
      gran: "week",
      tz: "Europe/Berlin",
      // Repeated = several values (any of them); tag.<key> filters too.
      filters: { provider: ["openai"], model: ["gpt-4o", "gpt-4o-mini"], operation: ["chat"], "tag.team": ["growth"] },
      group: "model",
      sort: "requests:asc",
    });
    expect(readState(writeState(s))).toEqual(s);
    expect(readState("?group=tag.cost.center").group).toBe("tag.cost.center");
    expect(readState("?group=operation").group).toBe("operation");
    expect(readState("?tag.bad%20key=x&planet=mars").filters).toEqual({});
    const bad = readState("?range=forever&gran=minute&tz=Mars/Olympus&group=planet");
    expect(bad.range).toBe("7d");
    expect(bad.gran).toBeUndefined();
    expect(bad.tz).not.toBe("Mars/Olympus");
    expect(bad.group).toBe("provider");
    // A custom range with from after to falls back to the default preset.
    expect(readState("?range=custom&from=2026-03-10&to=2026-03-01&tz=UTC").range).toBe("7d");
  });
});

describe("resolveRange", () => {
  const now = Date.parse("2026-11-23T13:45:12Z");

  it("puts day presets on local midnights, ending tomorrow (zone-aware)", () => {
    const utc = resolveRange(readState("?range=7d&tz=UTC"), now);
    expect([iso(utc.start), iso(utc.end), utc.granularity]).toEqual(["2026-11-17T00:00:00.000Z", "2026-11-24T00:00:00.000Z", "day"]);
    // New York left DST on 2026-11-01: 30 days back crosses it, so the start is at 04:00Z, the end at 05:00Z.
    const ny = resolveRange(readState("?range=30d&tz=America/New_York"), now);
    expect([iso(ny.start), iso(ny.end)]).toEqual(["2026-10-25T04:00:00.000Z", "2026-11-24T05:00:00.000Z"]);
    const kolkata = resolveRange(readState("?range=7d&tz=Asia/Kolkata"), now);
    expect(iso(kolkata.start)).toBe("2026-11-16T18:30:00.000Z");
  });

  it("24 h ends at the next whole hour; this month is month to date; custom dates are inclusive", () => {
    const day = resolveRange(readState("?range=24h&tz=UTC"), now);
    expect([iso(day.start), iso(day.end), day.granularity]).toEqual(["2026-11-22T14:00:00.000Z", "2026-11-23T14:00:00.000Z", "hour"]);
    const month = resolveRange(readState("?range=month&tz=Europe/Berlin"), now);
    expect([iso(month.start), iso(month.end)]).toEqual(["2026-10-31T23:00:00.000Z", "2026-11-23T23:00:00.000Z"]);
    const custom = resolveRange(readState("?range=custom&from=2026-01-01&to=2026-01-31&tz=UTC"), now);
    expect([iso(custom.start), iso(custom.end), custom.granularity]).toEqual([
      "2026-01-01T00:00:00.000Z",
      "2026-02-01T00:00:00.000Z",
      "day",
    ]);
  });

  it("keeps a chosen granularity only while it fits the API's 2,000-bucket limit", () => {
    expect(resolveRange(readState("?range=7d&gran=hour&tz=UTC"), now).granularity).toBe("hour");
    expect(resolveRange(readState("?range=90d&gran=hour&tz=UTC"), now).granularity).toBe("day");
    expect(allowedGranularity("hour", 83 * 86_400_000)).toBe(true);
    expect(allowedGranularity("hour", 84 * 86_400_000)).toBe(false);
    expect(pickGranularity(undefined, 400 * 86_400_000)).toBe("week");
  });
});

describe("zoned wall time", () => {
  it("maps local midnights to instants on both sides of a DST change", () => {
    expect(iso(localMidnight({ y: 2026, m: 3, d: 8 }, "America/New_York"))).toBe("2026-03-08T05:00:00.000Z");
    expect(iso(localMidnight({ y: 2026, m: 3, d: 9 }, "America/New_York"))).toBe("2026-03-09T04:00:00.000Z");
    // Day overflow is normalized (Jan 32 = Feb 1).
    expect(iso(localMidnight({ y: 2026, m: 1, d: 32 }, "UTC"))).toBe("2026-02-01T00:00:00.000Z");
    // Hours step on the zone's hour grid, also in a half-hour zone and across the DST change.
    expect(iso(startOfHour(Date.parse("2026-03-08T06:59:00Z"), "America/New_York", 1))).toBe("2026-03-08T07:00:00.000Z");
    expect(iso(startOfHour(Date.parse("2026-03-08T10:10:00Z"), "Asia/Kolkata", 2))).toBe("2026-03-08T11:30:00.000Z");
  });
});
