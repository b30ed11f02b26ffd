import { randomUUID } from "node:crypto";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { type PricedCost, toClickHouseTime, toUsageRow, type UsageEvent } from "@tokenmeter/core";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { applyPriceOverride } from "./apply-override.js";
import { PriceBook } from "./price-book.js";
import { type RepriceReport, reprice } from "./reprice.js";
import { type StragglerPass, StragglerPasses } from "./stragglers.js";
import { usageEvent } from "./testing.js";
import { InProcessPricingUpdates } from "./updates.js";

// Issue 16's race: an event priced with the old price while its ingest process
// had not reloaded yet, inserted after the override's re-price scanned its day.
const logger = pino({ level: "silent" });
const MODEL = "ft:acme-straggle-v1";
const PRICES = { input: 3e-7, output: 1.2e-6, cache_read: null, cache_write: null, reasoning: null, tiers: [] };
const VERSION = "override:1970-01-01T00:00:00.000Z";
const NOW = Date.now();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const UNPRICED: PricedCost = { cost_usd: 0, cost_source: "unpriced", pricing_version: "" };
const cost = (e: UsageEvent) => e.input_tokens * PRICES.input + e.output_tokens * PRICES.output;

let store: ChdbStore;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await dropTestStore(store);
});

const ev = (org: string, ago: number, input: number, output: number, over: Partial<UsageEvent> = {}) =>
  usageEvent({
    event_id: randomUUID(),
    event_time_ms: NOW - ago,
    org_id: org,
    provider: "acme",
    model: MODEL,
    input_tokens: input,
    output_tokens: output,
    ...over,
  });

/** Stores rows as ingest would; `ingestedAt` set: stored then (history), unset: now (the store's clock). */
async function insert(rows: [UsageEvent, PricedCost][], ingestedAt?: number) {
  await store.insert(
    "llm_usage",
    rows.map(([e, c]) => ({
      ...toUsageRow(e, c, "test"),
      ...(ingestedAt === undefined ? {} : { ingested_at: toClickHouseTime(ingestedAt) }),
    })),
  );
}

async function row(id: string) {
  const [r] = await store.query<{ cost_usd: number; cost_source: string; pricing_version: string }>(
    "SELECT cost_usd, cost_source, pricing_version FROM llm_usage WHERE event_id = {id:UUID}",
    { id },
  );
  return { ...r, cost_usd: Number(r?.cost_usd) };
}

/** Requests, unpriced requests and cost of the model, from raw and from both rollups. */
async function totals() {
  const q = async (table: string, n: string, unpriced: string) =>
    (
      await store.query<{ cost: number; unpriced: number; n: number }>(
        `SELECT sum(cost_usd) AS cost, ${unpriced} AS unpriced, ${n} AS n FROM ${table} WHERE model = {model:String}`,
        { model: MODEL },
      )
    ).map((r) => ({ cost: Number(r.cost), unpriced: Number(r.unpriced), n: Number(r.n) }))[0];
  return {
    raw: await q("llm_usage", "count()", "countIf(cost_source = 'unpriced')"),
    daily: await q("llm_usage_daily", "sum(requests)", "sum(unpriced_requests)"),
    hourly: await q("llm_usage_hourly", "sum(requests)", "sum(unpriced_requests)"),
  };
}

describe("the straggler pass of a price override", () => {
  it("re-prices a row priced with the old price and stored after the first pass, and nothing else", async () => {
    // 1. History, stored an hour ago: the org's unpriced events (two months) and one with a reported cost.
    const history = [ev("acme", 2 * HOUR, 1_000, 100), ev("acme", DAY, 2_000, 300), ev("acme", 40 * DAY, 500, 50)];
    const reported = ev("acme", 3 * HOUR, 10, 10, { cost_usd: 0.5 });
    await insert(
      [
        ...history.map((e): [UsageEvent, PricedCost] => [e, UNPRICED]),
        [reported, { cost_usd: 0.5, cost_source: "reported", pricing_version: "" }],
      ],
      NOW - HOUR,
    );

    // 2. The override, end to end: saved, published, the first pass; the second pass handed over, not run.
    const scheduled: StragglerPass[] = [];
    const applied = await applyPriceOverride({
      store,
      override: { org_id: "acme", model: MODEL, effective_from_ms: 0, prices: PRICES },
      updates: new InProcessPricingUpdates(),
      logger,
      stragglers: { schedule: (p) => scheduled.push(p) },
    });
    expect(applied).toMatchObject({ rows_changed: 3, published: true });
    expect(scheduled).toHaveLength(1);

    // 3. Stored after the first pass finished: the straggler (priced before its ingest process reloaded),
    //    an event priced with the override (after the reload), another org's event (no override there).
    const straggler = ev("acme", 2 * DAY, 4_000, 700);
    const fresh = ev("acme", 1_000, 300, 30);
    const otherOrg = ev("globex", 2 * DAY, 4_000, 700);
    const book = await PriceBook.load(store);
    await insert([
      [straggler, UNPRICED],
      [fresh, book.price(fresh)],
      [otherOrg, UNPRICED],
    ]);
    // What main leaves until someone runs `tokenmeter reprice`.
    expect(await row(straggler.event_id)).toMatchObject({ cost_source: "unpriced", cost_usd: 0 });
    const freshBefore = await row(fresh.event_id);
    expect(freshBefore).toMatchObject({ cost_source: "computed", pricing_version: VERSION });

    // 4. The second pass, as the query service runs it.
    const reports: RepriceReport[] = [];
    const passes = new StragglerPasses({ store, logger, delayMs: 10, onPass: (_, r) => reports.push(r) });
    passes.schedule(scheduled[0] as StragglerPass);
    await passes.idle();
    // Only the org's rows stored since the first pass began: the straggler and the fresh event.
    expect(reports.map((r) => [r.rows_scanned, r.rows_changed])).toEqual([[2, 1]]);
    const s = await row(straggler.event_id);
    expect(s).toMatchObject({ cost_source: "computed", pricing_version: VERSION });
    expect(Math.abs(s.cost_usd - cost(straggler))).toBeLessThan(1e-9);
    expect(await row(fresh.event_id)).toEqual(freshBefore);
    expect(await row(reported.event_id)).toMatchObject({ cost_source: "reported", cost_usd: 0.5 });
    expect(await row(otherOrg.event_id)).toMatchObject({ cost_source: "unpriced", cost_usd: 0 });

    // 5. Raw and both rollups agree: every row counted once, only globex's left unpriced.
    const expected = [...history, straggler, fresh].reduce((sum, e) => sum + cost(e), 0.5);
    const after = await totals();
    for (const t of [after.raw, after.daily, after.hourly]) {
      expect(t).toMatchObject({ n: 7, unpriced: 1 });
      expect(Math.abs((t?.cost ?? 0) - expected)).toBeLessThan(1e-9);
    }

    // 6. Idempotent: run again, nothing changes, nothing is rewritten.
    passes.schedule(scheduled[0] as StragglerPass);
    await passes.idle();
    await passes.close();
    expect(reports[1]).toMatchObject({ rows_changed: 0, months: [] });
    expect(await totals()).toEqual(after);
  });

  it("schedules no second pass when 'pricing updated' was not published", async () => {
    const scheduled: StragglerPass[] = [];
    const applied = await applyPriceOverride({
      store,
      override: { org_id: "initech", model: MODEL, effective_from_ms: 0, prices: PRICES },
      logger,
      stragglers: { schedule: (p) => scheduled.push(p) },
    });
    expect(applied.published).toBe(false);
    expect(scheduled).toEqual([]);
  });

  it("close() ends a waiting pass at once and refuses new ones; a failing pass is logged, never thrown", async () => {
    const lines: { msg: string; level: number }[] = [];
    const log = pino({ level: "info" }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const pass: StragglerPass = { org_id: "acme", model: MODEL, from_ms: 0, ingested_since_ms: NOW };
    let ran = 0;
    const waiting = new StragglerPasses({ store, logger: log, delayMs: 600_000, onPass: () => ran++ });
    waiting.schedule(pass);
    const t0 = Date.now();
    await waiting.close();
    expect(Date.now() - t0).toBeLessThan(1_000);
    waiting.schedule(pass);
    await waiting.idle();
    expect(ran).toBe(0);
    expect(lines.map((l) => l.msg)).toEqual(["stopping: straggler pass not run or not finished", "stopping: straggler pass not scheduled"]);

    // A store that fails (its database gone): an error line, the promise chain intact.
    const broken = await openTestStore({ migrated: false });
    await broken.command(`DROP DATABASE ${broken.database}`);
    const failing = new StragglerPasses({ store: broken, logger: log, delayMs: 0, onPass: () => ran++ });
    failing.schedule(pass);
    await failing.idle();
    await failing.close();
    await broken.close();
    expect(ran).toBe(0);
    expect(lines.at(-1)).toMatchObject({ level: 50, msg: "straggler pass failed" });
  });

  it("a re-price whose signal is aborted changes nothing", async () => {
    const before = await totals();
    const book = await PriceBook.load(store);
    await expect(
      reprice({
        store,
        book,
        model: MODEL,
        from: new Date(NOW - 50 * DAY),
        to: new Date(NOW + 60_000),
        logger,
        signal: AbortSignal.abort(),
      }),
    ).rejects.toThrow(/abort/i);
    expect(await totals()).toEqual(before);
  });
});
