import type { ChdbStore } from "@tokenmeter/clickhouse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import { testEvent } from "../testing/events.js";
import { type GenEvent, insertEvents } from "../testing/fixture.js";
import { metricValues } from "./metric.js";
import type { MetricSource } from "./model.js";

const HOUR = 3_600_000;
const ORG = "org-p95";
// A tick on the hour: the 24 h window holds 24 whole hours, which a sum rule reads from the hourly rollup.
const TICK = Math.floor(Date.now() / HOUR) * HOUR - HOUR;

let store: ChdbStore;
const events: GenEvent[] = [];
beforeAll(async () => {
  store = await openTestStore();
  // Two models over the whole window, durations spread so p95 is not an artefact of one hour.
  for (let i = 0; i < 400; i++) {
    const model = i % 4 === 0 ? "gpt-4o-mini" : "gpt-4o";
    const at = TICK - 23 * HOUR + ((i * 7_919) % (23 * HOUR));
    events.push(testEvent(ORG, at, { model, duration_ms: 20 + ((i * 37) % 977), ttfb_ms: i % 5 === 0 ? null : 5 + (i % 83) }));
  }
  // Outside the window: must not count.
  events.push(testEvent(ORG, TICK - 25 * HOUR, { duration_ms: 999_999 }), testEvent(ORG, TICK, { duration_ms: 999_999 }));
  await insertEvents(store, events);
});
afterAll(async () => {
  await dropTestStore(store);
});

const rule = (over: Partial<MetricSource>): MetricSource => ({
  metric: "p95_duration_ms",
  window_minutes: 1440,
  op: ">",
  threshold: 0,
  min_requests: 1,
  filters: {},
  per: null,
  max_groups: 100,
  ...over,
});

/** ClickHouse's quantileExact: the value at ⌊level·n⌋ of the sorted values (computed here from the events). */
function exactP95(values: Array<number | null | undefined>): number {
  const sorted = values.filter((v): v is number => typeof v === "number").sort((a, b) => a - b);
  return sorted[Math.floor(0.95 * sorted.length)] as number;
}
const inWindow = (e: GenEvent) => e.event_time_ms >= TICK - 24 * HOUR && e.event_time_ms < TICK;

describe("p95 alert metrics (raw rows: no rollup keeps latency)", () => {
  it("equal the exact p95 of the window's calls, overall and per model", async () => {
    const all = await metricValues(store, ORG, rule({}), TICK);
    const expected = events.filter(inWindow);
    expect(all.get("")).toEqual({ requests: expected.length, value: exactP95(expected.map((e) => e.duration_ms)) });

    const perModel = await metricValues(store, ORG, rule({ metric: "p95_ttfb_ms", per: "model" }), TICK);
    for (const model of ["gpt-4o", "gpt-4o-mini"]) {
      const of = expected.filter((e) => e.model === model);
      expect(perModel.get(model)).toEqual({ requests: of.length, value: exactP95(of.map((e) => e.ttfb_ms)) });
    }
  });

  it("is null when no call in the window reported the figure", async () => {
    const org = "org-p95-none";
    await insertEvents(store, [testEvent(org, TICK - 2 * HOUR, { ttfb_ms: null })]);
    expect((await metricValues(store, org, rule({ metric: "p95_ttfb_ms" }), TICK)).get("")).toEqual({ requests: 1, value: null });
  });
});
