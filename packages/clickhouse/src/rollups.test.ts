import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import type { ChdbStore } from "./chdb-store.js";
import { monthKey, monthRange, rebuildRollups } from "./rollups.js";

describe("monthRange", () => {
  it("lists months inclusive across a year boundary and rejects bad input", () => {
    expect(monthRange("2025-11", "2026-02")).toEqual(["2025-11", "2025-12", "2026-01", "2026-02"]);
    expect(monthRange("2026-01", "2026-01")).toEqual(["2026-01"]);
    expect(() => monthRange("2026-02", "2026-01")).toThrow(/empty/);
    expect(() => monthRange("2026-13", "2026-14")).toThrow(/YYYY-MM/);
    expect(() => monthRange("2026-1", "2026-02")).toThrow(/YYYY-MM/);
  });
});

describe("rebuildRollups on the real engine", () => {
  let store: ChdbStore;
  const now = new Date();
  // Two recent months, so the raw TTL (13 months) never removes the fixture.
  const m1 = monthKey(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 2, 1)));
  const m2 = monthKey(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)));

  beforeAll(async () => {
    store = await openTestStore();
    const rows = [];
    for (let i = 0; i < 300; i++) {
      const month = i % 2 === 0 ? m1 : m2;
      rows.push({
        event_id: randomUUID(),
        event_time: `${month}-${String((i % 27) + 1).padStart(2, "0")} ${String(i % 24).padStart(2, "0")}:30:00.000`,
        org_id: `org_${i % 3}`,
        user_id: `u${i % 5}`,
        provider: "openai",
        model: i % 4 === 0 ? "gpt-4o" : "gpt-4o-mini",
        input_tokens: 100 + i,
        output_tokens: 10 + (i % 7),
        cost_usd: i % 10 === 0 ? 0 : 0.001 * i,
        cost_source: i % 10 === 0 ? "unpriced" : "pricing",
        duration_ms: 50 + ((i * 37) % 900),
        status_code: i % 9 === 0 ? 500 : 200,
      });
    }
    await store.insert("llm_usage", rows);
  });
  afterAll(async () => {
    if (store) await dropTestStore(store);
  });

  const totals = async () => ({
    raw: await store.query("SELECT count() AS requests, sum(input_tokens) AS input, round(sum(cost_usd), 6) AS cost FROM llm_usage"),
    daily: await store.query(
      "SELECT sum(requests) AS requests, sum(input_tokens) AS input, round(sum(cost_usd), 6) AS cost FROM llm_usage_daily",
    ),
    hourly: await store.query(
      "SELECT sum(requests) AS requests, sum(input_tokens) AS input, round(sum(cost_usd), 6) AS cost FROM llm_usage_hourly",
    ),
    model_hourly: await store.query(
      "SELECT sum(requests) AS requests, sum(input_tokens) AS input, round(sum(cost_usd), 6) AS cost FROM llm_usage_model_hourly",
    ),
  });

  it("repairs double-counted and missing rollup rows, and a second run changes nothing", async () => {
    const before = await totals();
    expect(before.daily).toEqual(before.raw);
    expect(before.model_hourly).toEqual(before.raw);
    // Break every rollup: a duplicated daily block, a lost hourly month, a duplicated model month.
    await store.command("INSERT INTO llm_usage_daily SELECT * FROM llm_usage_daily WHERE toYYYYMM(day) = {m:UInt32}", {
      m: Number(m1.replace("-", "")),
    });
    await store.command("ALTER TABLE llm_usage_hourly DROP PARTITION ID {id:String}", { id: m2.replace("-", "") });
    await store.command("INSERT INTO llm_usage_model_hourly SELECT * FROM llm_usage_model_hourly WHERE toYYYYMM(hour) = {m:UInt32}", {
      m: Number(m2.replace("-", "")),
    });
    const broken = await totals();
    for (const t of ["daily", "hourly", "model_hourly"] as const) expect(broken[t]).not.toEqual(before.raw);

    const first = await rebuildRollups(store, { fromMonth: m1, toMonth: m2 });
    expect(first.map((r) => [r.month, r.status, r.attempts])).toEqual([
      [m1, "rebuilt", 1],
      [m2, "rebuilt", 1],
    ]);
    expect(first[0]?.raw_requests).toBe(150);
    expect(Object.keys(first[0]?.rollups ?? {}).sort()).toEqual([
      "llm_usage_daily",
      "llm_usage_hourly",
      "llm_usage_model_hourly",
      "llm_usage_tag_hourly",
    ]);
    expect(await totals()).toEqual(before);

    await rebuildRollups(store, { fromMonth: m1, toMonth: m2 });
    expect(await totals()).toEqual(before);
    const leftovers = await store.query("SELECT name FROM system.tables WHERE database = {db:String} AND name LIKE '%_rebuild_%'", {
      db: store.database,
    });
    expect(leftovers).toEqual([]);
  });

  it("picks up changed raw costs (the re-pricing path)", async () => {
    await store.command(
      "ALTER TABLE llm_usage UPDATE cost_usd = 1, cost_source = 'pricing' WHERE cost_source = 'unpriced'",
      {},
      {
        settings: { mutations_sync: 1 },
      },
    );
    await rebuildRollups(store, { fromMonth: m1, toMonth: m2 });
    const [r] = await store.query<{ cost: number }>("SELECT round(sum(cost_usd), 6) AS cost FROM llm_usage");
    for (const t of ["llm_usage_daily", "llm_usage_model_hourly"]) {
      const [d] = await store.query<{ unpriced: number; cost: number }>(
        `SELECT sum(unpriced_requests) AS unpriced, round(sum(cost_usd), 6) AS cost FROM ${t}`,
      );
      expect(d).toEqual({ unpriced: 0, cost: r?.cost });
    }
  });

  it("leaves months past raw retention alone unless forced, and an empty month empty", async () => {
    const old = await rebuildRollups(store, { fromMonth: m1, toMonth: m1, now: new Date(Date.UTC(2100, 0, 1)) });
    expect(old.map((r) => r.status)).toEqual(["skipped_expired"]);
    const empty = await rebuildRollups(store, { fromMonth: "2025-01", toMonth: "2025-01", force: true });
    expect(empty[0]).toMatchObject({ status: "rebuilt", raw_requests: 0 });
  });
});
