import { type ChdbStore, readyTagRollupKeys, type Store, syncTagRollupKeys } from "@tokenmeter/clickhouse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { type GenEvent, generateEvents, insertEvents, makeApp } from "./testing/fixture.js";

// Promoted tag keys (TOKENMETER_ROLLUP_TAG_KEYS): after the sync job, a
// promoted key's filters and group_by are read from llm_usage_tag_hourly, with
// the same answers as from raw rows and as computed from the events.
const NOW = Date.parse("2026-03-16T13:37:40.250Z");
const RANGE = "start=2026-02-20T07:30:00Z&end=2026-03-16T13:37:00Z";
const inRange = (e: GenEvent) =>
  e.org_id === "org-a" && e.event_time_ms >= Date.parse("2026-02-20T07:30:00Z") && e.event_time_ms < Date.parse("2026-03-16T13:37:00Z");

let store: ChdbStore;
let events: GenEvent[];

beforeAll(async () => {
  store = await openTestStore();
  events = generateEvents({ orgs: ["org-a", "org-b"], perOrg: 4_000, from: Date.parse("2026-02-01T00:00:00Z"), to: NOW - 1_000, seed: 5 });
  await insertEvents(
    store,
    events.filter((_, i) => i % 2 === 0),
  );
});
afterAll(async () => {
  await dropTestStore(store);
});

/** An app over a store that records the SQL it runs. */
function recordingApp(keys?: ReadonlySet<string>) {
  const sqls: string[] = [];
  const recording: Store = {
    database: store.database,
    query: (async (sql: string, p?: Record<string, unknown>) => {
      sqls.push(sql);
      return await store.query(sql, p);
    }) as Store["query"],
    insert: store.insert.bind(store),
    command: store.command.bind(store),
    close: async () => {},
  };
  const app = makeApp({ store: recording, now: NOW, ...(keys ? {} : {}) });
  return { app, sqls, keys };
}

async function body(app: ReturnType<typeof makeApp>, path: string): Promise<string> {
  const res = await app.get(path, "org-a");
  expect(res.status, path).toBe(200);
  return await res.text();
}

const PATHS = [
  `/v1/analytics/usage?${RANGE}&tag.team=growth&tag.team=ml`,
  `/v1/analytics/usage?${RANGE}&group_by=tag.team&limit=3&granularity=week`,
  `/v1/analytics/errors?${RANGE}&group_by=tag.team&operation=chat`,
  `/v1/analytics/models?${RANGE}&tag.team=core`,
];

describe("promoted tag keys", () => {
  it("backfills once (idempotent), then answers a promoted key from the tag rollup with raw's exact answers", async () => {
    const before = await Promise.all(PATHS.map((p) => body(recordingApp().app, p)));
    expect(await syncTagRollupKeys(store, ["team"])).toMatchObject({ backfilled: ["team"], removed: [] });
    expect(await syncTagRollupKeys(store, ["team"])).toEqual({ backfilled: [], removed: [], months: [] });
    expect([...(await readyTagRollupKeys(store))]).toEqual(["team"]);
    // Events arriving after the promotion flow into the rollup through the view.
    await insertEvents(
      store,
      events.filter((_, i) => i % 2 === 1),
    );
    const rollup = recordingApp();
    const after = await Promise.all(PATHS.map((p) => body(rollup.app, p)));
    // usage and errors read the tag rollup; models (cost breakdown, not in the tag rollup) reads raw.
    expect(rollup.sqls.filter((s) => s.includes("FROM llm_usage_tag_hourly"))).toHaveLength(3);
    // The minute edges of the range still come from raw rows, in the same statement.
    expect(rollup.sqls.some((s) => s.includes("FROM llm_usage_tag_hourly") && s.includes("tags[{tag_key_0:String}]"))).toBe(true);
    // Same bytes as raw rows give (an app that knows no promoted key).
    const raw = makeApp({ store, now: NOW, tagRollupKeys: async () => new Set() });
    const rawAfter = await Promise.all(PATHS.map((p) => body(raw, p)));
    expect(after).toEqual(rawAfter);
    // And the events' own figures, for the filter.
    const want = events.filter((e) => inRange(e) && (e.tags.team === "growth" || e.tags.team === "ml"));
    const totals = JSON.parse(after[0] as string).totals;
    expect([totals.requests, totals.cost_usd]).toEqual([want.length, want.reduce((s, e) => s + Math.round(e.cost * 1e6), 0) / 1e6]);
    expect(before[0]).not.toEqual(after[0]); // the later events are counted
  });

  it("a second tag key, or a dimension the rollup lacks, falls back to raw; removing the key stops its use", async () => {
    const { app, sqls } = recordingApp();
    await body(app, `/v1/analytics/usage?${RANGE}&tag.team=growth&tag.feature=f1`);
    await body(app, `/v1/analytics/usage?${RANGE}&tag.team=growth&project_id=web`);
    expect(sqls.some((s) => s.includes("llm_usage_tag_hourly"))).toBe(false);
    expect(await syncTagRollupKeys(store, [])).toMatchObject({ backfilled: [], removed: ["team"] });
    expect(await readyTagRollupKeys(store)).toEqual(new Set());
  });
});
