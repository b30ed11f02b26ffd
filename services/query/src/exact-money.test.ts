import type { ChdbStore } from "@tokenmeter/clickhouse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { type GenEvent, generateEvents, insertEvents, makeApp, rng } from "./testing/fixture.js";

// Exact money (DESIGN.md "Event schema v1.1"): the same 100k events summed
// through the rollups, raw rows, the cache and after OPTIMIZE … FINAL give
// byte-identical cost_usd in JSON and CSV, equal to the exact decimal sum.
const NOW = Date.parse("2026-03-16T12:00:00Z");
const START = "2026-02-16T00:00:00Z";
const END = "2026-03-16T00:00:00Z";

let store: ChdbStore;
let events: GenEvent[];
/** Each event's cost as 12-decimal text, the way the test thinks of it (independent of the code). */
let costText: Map<string, string>;

beforeAll(async () => {
  store = await openTestStore();
  events = generateEvents({ orgs: ["org-a"], perOrg: 100_000, from: Date.parse(START), to: Date.parse(END), seed: 11 });
  const rand = rng(99);
  costText = new Map();
  for (const e of events) {
    // Up to $9.999999999999 with all 12 decimals used: a double sum of these drifts, a Decimal sum does not.
    const text = `${Math.floor(rand() * 10)}.${String(Math.floor(rand() * 1e6)).padStart(6, "0")}${String(Math.floor(rand() * 1e6)).padStart(6, "0")}`;
    costText.set(e.event_id, text);
    e.cost = Number(text);
    e.cost_source = "reported";
    // Every event carries one tag: filtering on it forces the raw read path for the same events.
    e.tags = { ...e.tags, all: "1" };
  }
  await insertEvents(store, events);
});
afterAll(async () => {
  await dropTestStore(store);
});

/** The exact sum of the events' costs, rounded half up to 6 decimals, as JSON would print it. */
function expectedText(): string {
  let picos = 0n;
  for (const text of costText.values()) picos += BigInt(text.replace(".", ""));
  const micros = (picos + 500_000n) / 1_000_000n;
  return String(Number(`${micros / 1_000_000n}.${(micros % 1_000_000n).toString().padStart(6, "0")}`));
}

async function totalCost(app: ReturnType<typeof makeApp>, qs: string): Promise<{ json: string; csv: string; cache: string | null }> {
  const res = await app.get(`/v1/analytics/usage?start=${START}&end=${END}&granularity=week&${qs}`, "org-a");
  const text = await res.text();
  const json = /"totals":\{[^}]*"cost_usd":([0-9.e+-]+)/.exec(text)?.[1] ?? "";
  const csvRes = await app.get(`/v1/analytics/summary?start=${START}&end=${END}&format=csv&${qs}`, "org-a");
  const csv = (await csvRes.text()).split("\n")[1]?.split(",")[9] ?? "";
  return { json, csv, cache: res.headers.get("x-cache") };
}

describe("exact money through every read path", () => {
  it("gives the same cost_usd bytes from rollups, raw, cache, the daily rollup and after OPTIMIZE FINAL", async () => {
    const want = expectedText();
    const app = makeApp({ store, now: NOW });
    const rollup = await totalCost(app, "");
    const raw = await totalCost(app, "tag.all=1");
    const cached = await totalCost(app, "");
    expect(cached.cache).toBe("HIT");
    // 380 days later: whole days come from the daily rollup.
    const daily = await totalCost(makeApp({ store, now: NOW + 380 * 86_400_000 }), "");
    for (const t of ["llm_usage", "llm_usage_daily", "llm_usage_hourly", "llm_usage_model_hourly"]) {
      await store.command(`OPTIMIZE TABLE ${t} FINAL`);
    }
    const merged = await totalCost(makeApp({ store, now: NOW }), "");
    const mergedRaw = await totalCost(makeApp({ store, now: NOW }), "tag.all=1");
    expect([rollup, raw, cached, daily, merged, mergedRaw].map((r) => r.json)).toEqual(Array(6).fill(want));
    // Summary CSV's cost_usd column: the same digits.
    expect([rollup, raw, daily, merged, mergedRaw].map((r) => r.csv)).toEqual(Array(5).fill(want));
    // And a float sum of the same costs would not have given these digits reliably: the figure is past 6 significant digits.
    expect(want.replace(".", "").length).toBeGreaterThan(9);
  });
});
