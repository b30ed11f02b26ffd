import { randomUUID } from "node:crypto";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { toUsageRow, type UsageEvent } from "@tokenmeter/core";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { diffPrices, insertPriceVersions, PriceBook, parseLiteLlmDocument, planVersions } from "./index.js";
import { reprice, scanSql } from "./reprice.js";
import { madeUpDocument, usageEvent } from "./testing.js";

const logger = pino({ level: "silent" });
const NOW = Date.parse("2026-11-23T12:00:00Z");
const now = () => NOW;
const at = (iso: string) => Date.parse(iso);
let store: ChdbStore;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await dropTestStore(store);
});

async function ingest(book: PriceBook, events: UsageEvent[]) {
  await store.insert(
    "llm_usage",
    events.map((e) => toUsageRow(e, book.price(e), "test")),
  );
}

async function addPrices(doc: Record<string, unknown>, version: string, nowMs: number) {
  const current = await PriceBook.load(store);
  const parsed = parseLiteLlmDocument(JSON.stringify(doc));
  await insertPriceVersions(store, planVersions(diffPrices(current.current(), parsed.entries), { version, source: "test", nowMs }));
}

/** Cost and unpriced counts per model, from raw and from both rollups. */
async function totals(model: string) {
  const q = async (sql: string) => (await store.query<{ cost: number; unpriced: number; n: number }>(sql, { model }))[0];
  return {
    raw: await q(
      "SELECT sum(cost_usd) AS cost, countIf(cost_source = 'unpriced') AS unpriced, count() AS n FROM llm_usage WHERE model = {model:String}",
    ),
    daily: await q(
      "SELECT sum(cost_usd) AS cost, sum(unpriced_requests) AS unpriced, sum(requests) AS n FROM llm_usage_daily WHERE model = {model:String}",
    ),
    hourly: await q(
      "SELECT sum(cost_usd) AS cost, sum(unpriced_requests) AS unpriced, sum(requests) AS n FROM llm_usage_hourly WHERE model = {model:String}",
    ),
  };
}

const ev = (model: string, iso: string, input: number, output: number, over: Partial<UsageEvent> = {}) =>
  usageEvent({
    event_id: randomUUID(),
    event_time_ms: at(iso),
    provider: "acme",
    model,
    input_tokens: input,
    output_tokens: output,
    ...over,
  });

describe("reprice", () => {
  it("scans only computed and unpriced rows (exact SQL)", () => {
    expect(
      scanSql({ model: "m" }),
    ).toBe(`SELECT toString(event_id) AS event_id, toUnixTimestamp64Milli(event_time) AS t, org_id, provider, model,
  input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens,
  units, service_tier, image_size, image_quality, cost_usd, cost_source, pricing_version
FROM llm_usage
WHERE event_time >= {from:DateTime64(3, 'UTC')} AND event_time < {to:DateTime64(3, 'UTC')}
  AND cost_source IN ('computed', 'unpriced')
  AND model = {model:String}`);
  });

  it("narrows the straggler pass's scan to one org's rows stored since an instant (exact SQL)", () => {
    expect(
      scanSql({ model: "m", orgId: "acme", ingestedSince: new Date(0) })
        .split("\n")
        .slice(-3),
    ).toEqual([
      "  AND model = {model:String}",
      "  AND org_id = {org_id:String}",
      "  AND ingested_at >= {ingested_since:DateTime64(3, 'UTC')}",
    ]);
  });

  it("prices an unknown model's events once its price exists, rebuilds rollups exactly, and is idempotent", async () => {
    await addPrices(madeUpDocument(), "v1", at("2026-01-01T00:00:00Z"));
    const book = await PriceBook.load(store);
    const mystery = [
      ev("mystery-1", "2026-09-03T10:00:00Z", 1_000, 100),
      ev("mystery-1", "2026-09-30T23:59:59Z", 2_000, 300, { cached_input_tokens: 500 }),
      ev("mystery-1", "2026-10-01T00:00:00Z", 4_000, 1_000, { reasoning_tokens: 600 }),
      ev("mystery-1", "2026-10-15T08:00:00Z", 10, 1),
    ];
    const reported = ev("mystery-1", "2026-10-02T00:00:00Z", 99, 9, { cost_usd: 0.5 });
    const known = ev("acme-chat", "2026-09-10T00:00:00Z", 1_000, 1_000);
    await ingest(book, [...mystery, reported, known]);
    expect((await totals("mystery-1")).daily).toEqual({ cost: 0.5, unpriced: 4, n: 5 });

    // The model gets a price (first price: effective from the epoch), then reprice.
    await addPrices(
      madeUpDocument({
        "mystery-1": {
          input_cost_per_token: 1e-6,
          output_cost_per_token: 2e-6,
          cache_read_input_token_cost: 1e-7,
          output_cost_per_reasoning_token: 5e-6,
        },
      }),
      "v2",
      at("2026-11-01T00:00:00Z"),
    );
    await book.reload();
    const progress: number[] = [];
    const report = await reprice({
      store,
      book,
      from: new Date("2026-09-01T00:00:00Z"),
      to: new Date("2026-11-01T00:00:00Z"),
      logger,
      now,
      onProgress: (p) => progress.push(p.days_done),
    });

    const expected =
      1_000 * 1e-6 +
      100 * 2e-6 +
      (1_500 * 1e-6 + 500 * 1e-7 + 300 * 2e-6) +
      (4_000 * 1e-6 + 400 * 2e-6 + 600 * 5e-6) +
      (10 * 1e-6 + 1 * 2e-6);
    const m = report.models.find((x) => x.model === "mystery-1");
    expect(m).toMatchObject({ requests: 4, changed: 4, old_cost_usd: 0, old_unpriced: 4, new_unpriced: 0 });
    expect(Math.abs((m?.new_cost_usd ?? 0) - expected)).toBeLessThan(1e-9);
    expect(report.models.find((x) => x.model === "acme-chat")).toMatchObject({ requests: 1, changed: 0 });
    expect(report.months.map((x) => [x.month, x.status])).toEqual([
      ["2026-09", "rebuilt"],
      ["2026-10", "rebuilt"],
    ]);
    expect(progress.at(-1)).toBe(61);

    const after = await totals("mystery-1");
    for (const t of [after.raw, after.daily, after.hourly]) {
      expect(t?.n).toBe(5);
      expect(t?.unpriced).toBe(0);
      expect(Math.abs((t?.cost ?? 0) - (expected + 0.5))).toBeLessThan(1e-9);
    }
    const [v] = await store.query<{ v: string }>(
      "SELECT any(pricing_version) AS v FROM llm_usage WHERE model = 'mystery-1' AND cost_source = 'computed'",
    );
    expect(v?.v).toBe("v2");

    // Twice: nothing left to change, nothing rewritten, same totals.
    const again = await reprice({ store, book, from: new Date("2026-09-01T00:00:00Z"), to: new Date("2026-11-01T00:00:00Z"), logger, now });
    expect(again.rows_changed).toBe(0);
    expect(again.months).toEqual([]);
    expect(await totals("mystery-1")).toEqual(after);
  });

  it("re-prices with the version in effect at each event: before T old, from T new; --model limits it", async () => {
    const T = at("2026-09-20T00:00:00Z");
    await addPrices(madeUpDocument({ "acme-chat": { input_cost_per_token: 3e-6, output_cost_per_token: 9e-6 } }), "v3", T);
    const book = await PriceBook.load(store);
    const report = await reprice({
      store,
      book,
      from: new Date("2026-09-01T00:00:00Z"),
      to: new Date("2026-10-01T00:00:00Z"),
      model: "acme-chat",
      logger,
      now,
    });
    // The only acme-chat event is on 09-10, before T: it keeps v1 and nothing changes.
    expect(report.rows_changed).toBe(0);
    expect(report.models.map((x) => x.model)).toEqual(["acme-chat"]);

    const late = ev("acme-chat", "2026-09-25T00:00:00Z", 1_000, 1_000);
    // Stored as if priced before v3 was known (old price), as a late refresh would leave it.
    await store.insert("llm_usage", [
      toUsageRow(late, { cost_usd: 1_000 * 2e-6 + 1_000 * 8e-6, cost_source: "computed", pricing_version: "v1" }, "test"),
    ]);
    const fixed = await reprice({
      store,
      book,
      from: new Date("2026-09-01T00:00:00Z"),
      to: new Date("2026-10-01T00:00:00Z"),
      model: "acme-chat",
      logger,
      now,
    });
    expect(fixed.rows_changed).toBe(1);
    const rows = await store.query<{ t: string; cost_usd: number; pricing_version: string }>(
      "SELECT toString(event_time) AS t, cost_usd, pricing_version FROM llm_usage WHERE model = 'acme-chat' ORDER BY event_time",
    );
    expect(rows.map((r) => r.pricing_version)).toEqual(["v1", "v3"]);
    expect(Math.abs((rows[0]?.cost_usd ?? 0) - (1_000 * 2e-6 + 1_000 * 8e-6))).toBeLessThan(1e-9);
    expect(Math.abs((rows[1]?.cost_usd ?? 0) - (1_000 * 3e-6 + 1_000 * 9e-6))).toBeLessThan(1e-9);
  });

  it("refuses a range older than the raw retention", async () => {
    const book = new PriceBook();
    await expect(
      reprice({ store, book, from: new Date("2025-01-01T00:00:00Z"), to: new Date("2025-02-01T00:00:00Z"), logger, now }),
    ).rejects.toThrow(/raw retention/);
  });
});
