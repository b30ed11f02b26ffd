import type { ChdbStore } from "@tokenmeter/clickhouse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import { type BudgetTestApp, makeBudgetApp } from "../testing/budget-app.js";
import { type GenEvent, generateEvents, insertEvents } from "../testing/fixture.js";

// Budget spent against /v1/analytics/usage on the real engine: the same number
// for every metric, calendar window and zone, and for a rolling window.
const NOW = Date.parse("2026-03-16T13:37:40.250Z");
let store: ChdbStore;
let t: BudgetTestApp;
let events: GenEvent[];

beforeAll(async () => {
  store = await openTestStore();
  events = generateEvents({ orgs: ["org-a", "org-b"], perOrg: 3_000, from: Date.parse("2026-01-25T00:00:00Z"), to: NOW - 1_000 });
  await insertEvents(store, events);
  t = makeBudgetApp({ store, now: () => NOW });
});
afterAll(async () => {
  t.stop();
  await dropTestStore(store);
});

type Status = { id: string; window_start: string; window_end: string; spent: number; groups: { key: string; spent: number }[] } & Record<
  string,
  unknown
>;
type Usage = { totals: Record<string, number> };

const WINDOWS = [
  { name: "month UTC", window: { period: "month", tz: "UTC" } },
  { name: "month New York (spans the DST change)", window: { period: "month", tz: "America/New_York" } },
  { name: "week Kolkata", window: { period: "week", tz: "Asia/Kolkata" } },
  { name: "day New York", window: { period: "day", tz: "America/New_York" } },
  { name: "rolling 30 h", window: { rolling_hours: 30 } },
  { name: "rolling 900 h", window: { rolling_hours: 900 } },
] as const;
const SCOPES = [{}, { project_id: ["web", "api"] }, { user_id: "u3" }] as const;

describe("spent equals /v1/analytics/usage totals", () => {
  for (const w of WINDOWS) {
    for (const metric of ["cost_usd", "total_tokens", "requests"] as const) {
      it(`${w.name}, ${metric}`, async () => {
        for (const scope of SCOPES) {
          const b = await t.json<{ id: string }>("POST", "/v1/budgets", "org-a", {
            name: `${w.name} ${metric}`,
            metric,
            limit: 1000,
            window: w.window,
            scope,
          });
          const s = await t.json<Status>("GET", `/v1/budgets/${b.id}/status`, "org-a");
          const tz = "tz" in w.window ? w.window.tz : "UTC";
          const qs = new URLSearchParams({ start: s.window_start, end: s.window_end, tz });
          for (const [k, v] of Object.entries(scope)) for (const x of [v].flat()) qs.append(k, x);
          const usage = await t.json<Usage>("GET", `/v1/analytics/usage?${qs}`, "org-a");
          expect(s.spent, JSON.stringify(scope)).toBe(usage.totals[metric]);
          if (Object.keys(scope).length === 0) expect(s.spent).toBeGreaterThan(0);
        }
      });
    }
  }

  it("per user: each group is that user's usage total and the groups add up", async () => {
    const b = await t.json<{ id: string }>("POST", "/v1/budgets", "org-a", {
      name: "per user",
      metric: "requests",
      limit: 50,
      window: { period: "month", tz: "Europe/Berlin" },
      per: "user_id",
      thresholds: [50, 100],
    });
    const s = await t.json<Status>("GET", `/v1/budgets/${b.id}/status`, "org-a");
    expect(s.groups.length).toBeGreaterThan(5);
    expect(s.groups.reduce((a, g) => a + g.spent, 0)).toBe(s.spent);
    const u3 = s.groups.find((g) => g.key === "u3");
    const usage = await t.json<Usage>(
      "GET",
      `/v1/analytics/usage?start=${s.window_start}&end=${s.window_end}&tz=Europe/Berlin&user_id=u3`,
      "org-a",
    );
    expect(u3?.spent).toBe(usage.totals.requests);
    expect(u3).toMatchObject({ state: (u3?.spent ?? 0) >= 50 ? "exceeded" : (u3?.spent ?? 0) >= 25 ? "warning" : "ok" });
  });
});

describe("budget API", () => {
  it("creates, reads, lists, updates and deletes; another org's id is a 404", async () => {
    const created = await t.call("POST", "/v1/budgets", "org-b", {
      name: "b",
      metric: "cost_usd",
      limit: 5,
      window: { period: "day", tz: "Europe/Berlin" },
      thresholds: [100, 50],
      enforcement: "hard",
    });
    expect(created.status).toBe(201);
    const b = (await created.json()) as Record<string, unknown>;
    expect(b).toMatchObject({ name: "b", thresholds: [50, 100], per: null, scope: {}, enforcement: "hard" });
    expect(typeof b.created_at).toBe("string");
    expect((await t.call("GET", `/v1/budgets/${b.id}`, "org-a")).status).toBe(404);
    expect((await t.call("GET", `/v1/budgets/${b.id}/status`, "org-a")).status).toBe(404);
    expect((await t.call("DELETE", `/v1/budgets/${b.id}`, "org-a")).status).toBe(404);
    expect(
      (await t.call("PUT", `/v1/budgets/${b.id}`, "org-a", { name: "x", metric: "requests", limit: 1, window: { rolling_hours: 1 } }))
        .status,
    ).toBe(404);
    const list = await t.json<{ budgets: { id: string }[] }>("GET", "/v1/budgets", "org-b");
    expect(list.budgets.map((x) => x.id)).toContain(b.id);
    const put = await t.json<Record<string, unknown>>("PUT", `/v1/budgets/${b.id}`, "org-b", {
      name: "b2",
      metric: "requests",
      limit: 7,
      window: { rolling_hours: 12 },
    });
    expect(put).toMatchObject({ id: b.id, name: "b2", limit: 7, window: { rolling_hours: 12 }, created_at: b.created_at });
    expect((await t.call("DELETE", `/v1/budgets/${b.id}`, "org-b")).status).toBe(204);
    expect((await t.call("GET", `/v1/budgets/${b.id}`, "org-b")).status).toBe(404);
  });

  it("a bad body is a 400 listing every problem", async () => {
    const res = await t.call("POST", "/v1/budgets", "org-a", {
      name: "",
      metric: "dollars",
      limit: -1,
      window: { period: "fortnight", tz: "Mars/Olympus" },
      thresholds: [0, 150],
      enforcement: "maybe",
      per: "colour",
      extra: 1,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { details: { issues: { path: string }[] } } };
    const paths = body.error.details.issues.map((i) => i.path);
    for (const p of [
      "name",
      "metric",
      "limit",
      "window.period",
      "window.tz",
      "thresholds.0",
      "thresholds.1",
      "enforcement",
      "per",
      "(body)",
    ])
      expect(paths, p).toContain(p);
    const rolling = await t.call("POST", "/v1/budgets", "org-a", {
      name: "r",
      metric: "requests",
      limit: 1,
      window: { rolling_hours: 5000 },
    });
    expect(rolling.status).toBe(400);
    expect(await rolling.text()).toContain("window.rolling_hours");
    // A scope the analytics cannot answer (here a tag filter, if this build's planner has none) is refused up front.
    const tagged = await t.call("POST", "/v1/budgets", "org-a", {
      name: "t",
      metric: "requests",
      limit: 1,
      window: { rolling_hours: 1 },
      scope: { tags: { team: "x" } },
    });
    expect([201, 400]).toContain(tagged.status);
    if (tagged.status === 201)
      expect((await t.call("GET", `/v1/budgets/${((await tagged.json()) as { id: string }).id}/status`, "org-a")).status).toBe(200);
    const notJson = await t.call("POST", "/v1/budgets", "org-a", "{nope");
    expect(notJson.status).toBe(400);
  });
});
