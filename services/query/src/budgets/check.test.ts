import type { ChdbStore } from "@tokenmeter/clickhouse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import { makeBudgetApp } from "../testing/budget-app.js";
import { testEvent } from "../testing/events.js";
import { insertEvents } from "../testing/fixture.js";

let store: ChdbStore;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await dropTestStore(store);
});

const event = testEvent;

describe("calendar window boundaries", () => {
  it("a month in Kolkata resets at local midnight of the 1st: events a second apart land in different windows", async () => {
    const midnight = Date.parse("2026-03-31T18:30:00Z"); // 2026-04-01 00:00 IST
    await insertEvents(store, [event("org-m", midnight - 1_000), event("org-m", midnight + 1_000, { cost_usd: 0.5, cost: 0.5 })]);
    let clock = midnight - 500;
    const t = makeBudgetApp({ store, now: () => clock });
    const b = await t.json<{ id: string }>("POST", "/v1/budgets", "org-m", {
      name: "m",
      metric: "cost_usd",
      limit: 10,
      window: { period: "month", tz: "Asia/Kolkata" },
    });
    const before = await t.json<Record<string, unknown>>("GET", `/v1/budgets/${b.id}/status`, "org-m");
    expect(before).toMatchObject({ spent: 0.25, window_end: "2026-03-31T18:30:00.000Z", resets_at: "2026-03-31T18:30:00.000Z" });
    clock = midnight + 1_500;
    const after = await t.json<Record<string, unknown>>("GET", `/v1/budgets/${b.id}/status`, "org-m");
    expect(after).toMatchObject({ spent: 0.5, window_start: "2026-03-31T18:30:00.000Z" });
    t.stop();
  });
});

describe("tag scopes", () => {
  it("a budget scoped to a tag and split per another tag spends what usage reports for that tag filter", async () => {
    const at = Date.now() - 60_000;
    await insertEvents(store, [
      event("org-tag", at, { tags: { team: "growth", env: "prod" } }),
      event("org-tag", at + 1, { tags: { team: "growth", env: "dev" }, cost_usd: 0.5, cost: 0.5 }),
      event("org-tag", at + 2, { tags: { team: "core", env: "prod" } }),
    ]);
    const t = makeBudgetApp({ store, now: Date.now });
    const created = await t.call("POST", "/v1/budgets", "org-tag", {
      name: "growth",
      metric: "cost_usd",
      limit: 10,
      window: { period: "day", tz: "UTC" },
      scope: { tags: { team: "growth" } },
      per: "tag.env",
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const b = (await created.json()) as { id: string };
    const s = await t.json<{ spent: number; window_start: string; window_end: string; groups: { key: string; spent: number }[] }>(
      "GET",
      `/v1/budgets/${b.id}/status`,
      "org-tag",
    );
    const usage = await t.json<{ totals: { cost_usd: number } }>(
      "GET",
      `/v1/analytics/usage?start=${s.window_start}&end=${s.window_end}&tag.team=growth`,
      "org-tag",
    );
    expect(s.spent).toBe(usage.totals.cost_usd);
    expect(s.spent).toBe(0.75);
    expect(s.groups.map((g) => [g.key, g.spent])).toEqual([
      ["dev", 0.5],
      ["prod", 0.25],
    ]);
    const check = await t.json<{ budgets: { key: string; spent: number }[] }>("POST", "/v1/budgets/check", "org-tag", {
      tags: { team: "growth", env: "dev" },
    });
    expect(check.budgets).toMatchObject([{ key: "dev", spent: 0.5 }]);
    expect((await t.json<{ budgets: unknown[] }>("POST", "/v1/budgets/check", "org-tag", { tags: { team: "core" } })).budgets).toEqual([]);
    t.stop();
  });
});

describe("POST /v1/budgets/check", () => {
  it("a hard budget refuses once the event that crossed it is stored (≤ 2 s); a soft one never refuses", async () => {
    const t = makeBudgetApp({ store, now: Date.now, refreshMs: 1_000 });
    const scope = { agent_id: "crosser" };
    const hard = await t.json<{ id: string }>("POST", "/v1/budgets", "org-c", {
      name: "hard",
      metric: "requests",
      limit: 3,
      window: { period: "day", tz: "UTC" },
      scope,
      enforcement: "hard",
    });
    await t.json("POST", "/v1/budgets", "org-c", { name: "soft", metric: "requests", limit: 1, window: { rolling_hours: 1 }, scope });
    const call = { agent_id: "crosser", project_id: "web" };
    await insertEvents(store, [
      event("org-c", Date.now() - 5_000, { agent_id: "crosser" }),
      event("org-c", Date.now() - 4_000, { agent_id: "crosser" }),
    ]);
    const first = await t.json<{ allowed: boolean; budgets: Record<string, unknown>[] }>("POST", "/v1/budgets/check", "org-c", call);
    expect(first.allowed).toBe(true);
    expect(first.budgets.find((b) => b.id === hard.id)).toMatchObject({ spent: 2, limit: 3, remaining: 1, enforcement: "hard", key: null });
    expect(
      first.budgets.find((b) => b.name === "soft"),
      JSON.stringify(first),
    ).toMatchObject({ spent: 2, enforcement: "soft" });
    // Another agent's call is in neither budget.
    expect((await t.json<{ budgets: unknown[] }>("POST", "/v1/budgets/check", "org-c", { agent_id: "other" })).budgets).toEqual([]);

    await insertEvents(store, [event("org-c", Date.now(), { agent_id: "crosser" })]);
    const crossed = Date.now();
    let refused = false;
    while (!refused && Date.now() - crossed < 2_000) {
      refused = !(await t.json<{ allowed: boolean }>("POST", "/v1/budgets/check", "org-c", call)).allowed;
      if (!refused) await new Promise((r) => setTimeout(r, 50));
    }
    expect(refused).toBe(true);
    t.stop();
  });

  it("a rolling window's spent follows newly stored events", async () => {
    const t = makeBudgetApp({ store, now: Date.now, refreshMs: 200 });
    await t.json("POST", "/v1/budgets", "org-roll", {
      name: "probe",
      metric: "requests",
      limit: 1e9,
      window: { rolling_hours: 1 },
      scope: { agent_id: "probe" },
    });
    const spent = async () =>
      (await t.json<{ budgets: { spent: number }[] }>("POST", "/v1/budgets/check", "org-roll", { agent_id: "probe" })).budgets[0]?.spent;
    expect(await spent()).toBe(0);
    for (let i = 1; i <= 3; i++) {
      await insertEvents(store, [event("org-roll", Date.now(), { agent_id: "probe" })]);
      const stored = Date.now();
      let seen = 0;
      while (seen < i && Date.now() - stored < 5_000) {
        seen = (await spent()) ?? 0;
        if (seen < i) await new Promise((r) => setTimeout(r, 50));
      }
      expect(seen).toBe(i);
    }
    t.stop();
  });

  it("50 concurrent reservations against room for 10 let exactly 10 through; a released hold frees its room", async () => {
    const t = makeBudgetApp({ store, now: Date.now });
    await t.json("POST", "/v1/budgets", "org-r", {
      name: "room for 10",
      metric: "cost_usd",
      limit: 1,
      window: { period: "month", tz: "UTC" },
      enforcement: "hard",
    });
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        t.json<{ allowed: boolean; reservation?: { id: string } }>("POST", "/v1/budgets/check", "org-r", {
          estimate: 0.1,
          idempotency_key: `call-${i}`,
        }),
      ),
    );
    const through = answers.filter((a) => a.allowed);
    expect(through).toHaveLength(10);
    expect(through.every((a) => a.reservation !== undefined)).toBe(true);
    // The same key again is the same reservation, not a second one.
    const again = await t.json<{ allowed: boolean }>("POST", "/v1/budgets/check", "org-r", {
      estimate: 0.1,
      idempotency_key: through[0]?.reservation?.id,
    });
    expect(again.allowed).toBe(true);
    expect(
      (await t.json<{ allowed: boolean }>("POST", "/v1/budgets/check", "org-r", { estimate: 0.1, idempotency_key: "late" })).allowed,
    ).toBe(false);
    expect((await t.call("DELETE", `/v1/budgets/reservations/${through[0]?.reservation?.id}`, "org-r")).status).toBe(204);
    expect(
      (await t.json<{ allowed: boolean }>("POST", "/v1/budgets/check", "org-r", { estimate: 0.1, idempotency_key: "late" })).allowed,
    ).toBe(true);
    t.stop();
  });

  it("per user: each user is judged against the limit on their own", async () => {
    await insertEvents(store, [
      event("org-p", Date.now() - 1_000, { user_id: "heavy" }),
      event("org-p", Date.now() - 900, { user_id: "heavy" }),
    ]);
    const t = makeBudgetApp({ store, now: Date.now });
    await t.json("POST", "/v1/budgets", "org-p", {
      name: "per user",
      metric: "requests",
      limit: 2,
      window: { period: "day", tz: "UTC" },
      per: "user_id",
      enforcement: "hard",
    });
    const heavy = await t.json<{ allowed: boolean; budgets: { key: string; spent: number }[] }>("POST", "/v1/budgets/check", "org-p", {
      user_id: "heavy",
    });
    expect(heavy.allowed).toBe(false);
    expect(heavy.budgets[0]).toMatchObject({ key: "heavy", spent: 2 });
    expect((await t.json<{ allowed: boolean }>("POST", "/v1/budgets/check", "org-p", { user_id: "light" })).allowed).toBe(true);
    const bad = await t.call("POST", "/v1/budgets/check", "org-p", { estimate: -1, user: "x" });
    expect(bad.status).toBe(400);
    t.stop();
  });
});
