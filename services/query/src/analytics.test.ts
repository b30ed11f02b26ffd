import type { ChdbStore } from "@tokenmeter/clickhouse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { bucketLabel, bucketLabels, costClose, type Filter, groupBy, isErr, rankClose, select, sums } from "./testing/expected.js";
import { type GenEvent, generateEvents, insertEvents, makeApp, type TestApp } from "./testing/fixture.js";

// Every endpoint's figures against the same aggregates computed here from the
// generated events, for each granularity, in UTC, across a New York DST change,
// and in a half-hour zone; ranges with minute edges exercise raw + rollup unions.
const NOW = Date.parse("2026-03-16T13:37:40.250Z");
const ORGS = ["org-a", "org-b", "org-c"];
const GRANS = ["hour", "day", "week", "month"] as const;

let store: ChdbStore;
let events: GenEvent[];
let t: TestApp;

beforeAll(async () => {
  store = await openTestStore();
  events = generateEvents({ orgs: ORGS, perOrg: 4_000, from: Date.parse("2026-01-20T00:00:00Z"), to: NOW - 1_000 });
  await insertEvents(store, events);
  t = makeApp({ store, now: NOW });
});
afterAll(async () => {
  await dropTestStore(store);
});

interface Case {
  name: string;
  tz: string;
  start?: string;
  end?: string;
  grans: readonly (typeof GRANS)[number][];
}
const SNAPPED_NOW = Math.floor(NOW / 60_000) * 60_000;
const CASES: Case[] = [
  { name: "UTC, default end (now snapped to the minute)", tz: "UTC", start: "2026-02-23T00:00:00Z", grans: GRANS },
  { name: "UTC, defaults only", tz: "UTC", grans: ["day"] },
  {
    name: "New York across the DST change",
    tz: "America/New_York",
    start: "2026-02-22T05:00:00Z",
    end: "2026-03-15T13:37:23.456Z",
    grans: GRANS,
  },
  {
    name: "Kolkata (half-hour offset)",
    tz: "Asia/Kolkata",
    start: "2026-03-01T10:10:00Z",
    end: "2026-03-10T00:00:00Z",
    grans: ["hour", "day", "week"],
  },
];

function range(c: Case): { start: number; end: number; qs: string } {
  const end = c.end ? Date.parse(c.end) : SNAPPED_NOW;
  const start = c.start ? Date.parse(c.start) : end - 7 * 86_400_000;
  const qs = new URLSearchParams({
    ...(c.start ? { start: c.start } : {}),
    ...(c.end ? { end: c.end } : {}),
    ...(c.tz !== "UTC" ? { tz: c.tz } : {}),
  });
  return { start, end, qs: qs.toString() };
}

async function json<T = Record<string, unknown>>(path: string, org = "org-a"): Promise<T> {
  const res = await t.get(path, org);
  if (res.status !== 200) throw new Error(`${path} → ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

type Point = Record<string, number> & { bucket: string };

/** The series has exactly one bucket per label of [start, end), in order, each starting where the label starts. */
function checkBuckets(series: Point[], gran: string, tz: string, start: number, end: number): string[] {
  const labels = bucketLabels(gran, tz, start, end);
  expect(series.map((p) => bucketLabel(gran, tz, Date.parse(p.bucket)))).toEqual(labels);
  for (const p of series) {
    const b = Date.parse(p.bucket);
    // A bucket's start is the first instant of its label: one ms earlier is another bucket.
    expect(bucketLabel(gran, tz, b - 60_000)).not.toBe(bucketLabel(gran, tz, b));
  }
  return labels;
}

function expectSums(actual: Record<string, number>, evs: GenEvent[], where: string) {
  const s = sums(evs);
  for (const k of [
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "total_tokens",
  ] as const) {
    expect(actual[k], `${where} ${k}`).toBe(s[k]);
  }
  expect(costClose(actual.cost_usd as number, s.cost_usd), `${where} cost ${actual.cost_usd} vs ${s.cost_usd}`).toBe(true);
}

describe.each(CASES)("$name", (c) => {
  const { start, end, qs } = range(c);

  it.each(c.grans)("usage by %s equals the events' sums per bucket, zero-filled", async (gran) => {
    const body = await json<{ series: Point[]; totals: Record<string, number>; start: string; end: string; tz: string }>(
      `/v1/analytics/usage?${qs}&granularity=${gran}`,
    );
    expect([body.start, body.end, body.tz]).toEqual([new Date(start).toISOString(), new Date(end).toISOString(), c.tz]);
    checkBuckets(body.series, gran, c.tz, start, end);
    const evs = select(events, "org-a", start, end);
    const byLabel = groupBy(evs, (e) => bucketLabel(gran, c.tz, e.event_time_ms));
    for (const p of body.series) expectSums(p, byLabel.get(bucketLabel(gran, c.tz, Date.parse(p.bucket))) ?? [], p.bucket);
    expectSums(body.totals, evs, "totals");
  });

  it.each(c.grans)("latency by %s is within 1 percent rank error per bucket", async (gran) => {
    const body = await json<{ series: (Point & Record<string, Record<string, number | null>>)[] }>(
      `/v1/analytics/latency?${qs}&granularity=${gran}`,
    );
    checkBuckets(body.series as unknown as Point[], gran, c.tz, start, end);
    const byLabel = groupBy(select(events, "org-a", start, end), (e) => bucketLabel(gran, c.tz, e.event_time_ms));
    for (const p of body.series) {
      const evs = byLabel.get(bucketLabel(gran, c.tz, Date.parse(p.bucket))) ?? [];
      expect(p.requests).toBe(evs.length);
      for (const m of ["ttfb_ms", "proxy_overhead_ms", "duration_ms"] as const) {
        const values = evs.map((e) => e[m]).filter((v): v is number => v !== null);
        for (const q of [50, 95, 99]) {
          const v = (p[m] as Record<string, number | null>)[`p${q}`];
          expect(rankClose(values, q / 100, v), `${p.bucket} ${m} p${q}=${v} n=${values.length}`).toBe(true);
        }
      }
    }
  });

  it.each(c.grans)("errors by %s count errors per code and rate", async (gran) => {
    const body = await json<{ series: (Point & { by_code: Record<string, number> })[]; totals: Record<string, unknown> }>(
      `/v1/analytics/errors?${qs}&granularity=${gran}`,
    );
    checkBuckets(body.series, gran, c.tz, start, end);
    const evs = select(events, "org-a", start, end);
    const byLabel = groupBy(evs, (e) => bucketLabel(gran, c.tz, e.event_time_ms));
    for (const p of body.series) {
      const b = byLabel.get(bucketLabel(gran, c.tz, Date.parse(p.bucket))) ?? [];
      const errs = b.filter(isErr);
      expect(p.requests).toBe(b.length);
      expect(p.errors).toBe(errs.length);
      expect(p.error_rate).toBeCloseTo(b.length ? errs.length / b.length : 0, 6);
      const codes = Object.fromEntries([...groupBy(errs, (e) => e.error_code || "unspecified")].map(([k, v]) => [k, v.length]));
      expect(p.by_code).toEqual(codes);
    }
    expect(body.totals.errors).toBe(evs.filter(isErr).length);
  });

  it("usage grouped by model with a project filter has one zero-filled series per model", async () => {
    const body = await json<{ series: Point[]; groups: { key: string; series: Point[]; totals: Record<string, number> }[] }>(
      `/v1/analytics/usage?${qs}&granularity=day&group_by=model&project_id=web`,
    );
    const evs = select(events, "org-a", start, end, { project_id: "web" });
    const models = groupBy(evs, (e) => e.model);
    expect(body.groups.map((g) => g.key).sort()).toEqual([...models.keys()].sort());
    for (const g of body.groups) {
      const labels = checkBuckets(g.series, "day", c.tz, start, end);
      expect(g.series).toHaveLength(labels.length);
      const byLabel = groupBy(models.get(g.key) ?? [], (e) => bucketLabel("day", c.tz, e.event_time_ms));
      for (const p of g.series) expectSums(p, byLabel.get(bucketLabel("day", c.tz, Date.parse(p.bucket))) ?? [], `${g.key} ${p.bucket}`);
      expectSums(g.totals, models.get(g.key) ?? [], `${g.key} totals`);
    }
    expectSums(sumsOfSeries(body.series), evs, "all");
  });

  it("errors grouped by agent with an error_code filter", async () => {
    const body = await json<{ totals: Record<string, unknown>; groups: { key: string; totals: Record<string, unknown> }[] }>(
      `/v1/analytics/errors?${qs}&group_by=agent_id&error_code=rate_limit&error_code=timeout`,
    );
    const evs = select(events, "org-a", start, end);
    const counted = evs.filter((e) => e.error_code === "rate_limit" || e.error_code === "timeout");
    expect(body.totals.requests).toBe(evs.length);
    expect(body.totals.errors).toBe(counted.length);
    expect(Object.keys(body.totals.by_code as object).sort()).toEqual([...new Set(counted.map((e) => e.error_code))].sort());
    for (const g of body.groups) {
      expect(g.totals.requests).toBe(evs.filter((e) => e.agent_id === g.key).length);
      expect(g.totals.errors).toBe(counted.filter((e) => e.agent_id === g.key).length);
    }
  });

  it("models are sorted by cost with their shares", async () => {
    const body = await json<{ models: Record<string, number | string>[] }>(`/v1/analytics/models?${qs}`);
    const evs = select(events, "org-a", start, end);
    const total = sums(evs).cost_usd;
    // Rows per (provider, model, operation) since v1.1.
    const want = [...groupBy(evs, (e) => `${e.provider}/${e.model}/${e.operation}`)]
      .map(([k, v]) => ({ k, s: sums(v) }))
      .sort((a, b) => b.s.cost_usd - a.s.cost_usd);
    expect(body.models.map((m) => `${m.provider}/${m.model}/${m.operation}`)).toEqual(want.map((w) => w.k));
    for (const [i, m] of body.models.entries()) {
      const s = (want[i] as { s: ReturnType<typeof sums> }).s;
      expect([m.requests, m.input_tokens, m.output_tokens, m.total_tokens]).toEqual([
        s.requests,
        s.input_tokens,
        s.output_tokens,
        s.total_tokens,
      ]);
      expect(costClose(m.cost_usd as number, s.cost_usd)).toBe(true);
      expect(m.cost_share_pct).toBeCloseTo((100 * s.cost_usd) / total, 1);
    }
  });

  it("agents by requests and users by cost, with limits and filters", async () => {
    const f: Filter = { provider: "openai" };
    const evs = select(events, "org-a", start, end, f);
    const agents = await json<{ agents: Record<string, number | string>[] }>(`/v1/analytics/agents?${qs}&limit=3&provider=openai`);
    const wantAgents = [
      ...groupBy(
        evs.filter((e) => e.agent_id !== ""),
        (e) => e.agent_id,
      ),
    ]
      .map(([k, v]) => ({ agent_id: k, ...sums(v) }))
      .sort((a, b) => b.requests - a.requests || (a.agent_id < b.agent_id ? -1 : 1))
      .slice(0, 3);
    expect(agents.agents.map((a) => [a.agent_id, a.requests, a.errors, a.total_tokens])).toEqual(
      wantAgents.map((a) => [a.agent_id, a.requests, a.errors, a.total_tokens]),
    );
    for (const [i, a] of agents.agents.entries()) {
      expect(costClose(a.cost_usd as number, (wantAgents[i] as { cost_usd: number }).cost_usd)).toBe(true);
    }

    const users = await json<{ users: Record<string, number | string>[] }>(`/v1/analytics/users?${qs}&limit=100&provider=openai`);
    const wantUsers = [
      ...groupBy(
        evs.filter((e) => e.user_id !== ""),
        (e) => e.user_id,
      ),
    ]
      .map(([k, v]) => ({ user_id: k, ...sums(v) }))
      .sort((a, b) => b.cost_usd - a.cost_usd);
    expect(users.users.map((u) => [u.user_id, u.requests, u.total_tokens])).toEqual(
      wantUsers.map((u) => [u.user_id, u.requests, u.total_tokens]),
    );
    for (const [i, u] of users.users.entries()) {
      expect(costClose(u.cost_usd as number, (wantUsers[i] as { cost_usd: number }).cost_usd)).toBe(true);
    }
  });

  it("summary and its previous period equal the events' figures", async () => {
    const body = await json<Record<string, unknown> & { previous: Record<string, unknown> }>(`/v1/analytics/summary?${qs}`);
    const check = (got: Record<string, unknown>, from: number, to: number) => {
      const evs = select(events, "org-a", from, to);
      const s = sums(evs);
      expect([got.start, got.end]).toEqual([new Date(from).toISOString(), new Date(to).toISOString()]);
      expect([got.requests, got.errors, got.input_tokens, got.output_tokens, got.total_tokens, got.unpriced_requests]).toEqual([
        s.requests,
        s.errors,
        s.input_tokens,
        s.output_tokens,
        s.total_tokens,
        s.unpriced,
      ]);
      expect(costClose(got.cost_usd as number, s.cost_usd)).toBe(true);
      expect(got.avg_cost_per_request).toBeCloseTo(s.cost_usd / s.requests, 6);
      expect(got.error_rate).toBeCloseTo(s.errors / s.requests, 6);
      expect(got.active_agents).toBe(new Set(evs.map((e) => e.agent_id).filter(Boolean)).size);
      expect(got.active_users).toBe(new Set(evs.map((e) => e.user_id).filter(Boolean)).size);
      const durations = evs.map((e) => e.duration_ms).filter((v): v is number => v !== null);
      expect(rankClose(durations, 0.95, got.p95_duration_ms as number)).toBe(true);
      expect(got.latest_event_at).toBe(new Date(Math.max(...evs.map((e) => e.event_time_ms))).toISOString());
    };
    check(body, start, end);
    check(body.previous, start - (end - start), start);
  });
});

function sumsOfSeries(series: Point[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of series) for (const [k, v] of Object.entries(p)) if (typeof v === "number") out[k] = (out[k] ?? 0) + v;
  return out;
}

describe("history older than the hourly retention (daily rollup for whole days)", () => {
  // A clock 380 days later puts the retention edge ~10 days before the data's end: the days before it come from llm_usage_daily.
  const start = Date.parse("2026-02-23T07:15:00Z");
  const end = Date.parse("2026-03-16T13:37:00Z");
  const qs = `start=${new Date(start).toISOString()}&end=${new Date(end).toISOString()}`;

  it.each(["day", "week", "month"])("usage and errors by %s are unchanged", async (gran) => {
    const later = makeApp({ store, now: NOW + 380 * 86_400_000 });
    const usage = (await (await later.get(`/v1/analytics/usage?${qs}&granularity=${gran}`, "org-a")).json()) as { series: Point[] };
    const byLabel = groupBy(select(events, "org-a", start, end), (e) => bucketLabel(gran, "UTC", e.event_time_ms));
    for (const p of usage.series) expectSums(p, byLabel.get(bucketLabel(gran, "UTC", Date.parse(p.bucket))) ?? [], p.bucket);
    const errors = (await (await later.get(`/v1/analytics/errors?${qs}&granularity=${gran}`, "org-a")).json()) as {
      totals: { errors: number };
    };
    expect(errors.totals.errors).toBe(select(events, "org-a", start, end).filter(isErr).length);
    const agents = (await (await later.get(`/v1/analytics/agents?${qs}&limit=100`, "org-a")).json()) as { agents: { requests: number }[] };
    expect(agents.agents.reduce((s, a) => s + a.requests, 0)).toBe(
      select(events, "org-a", start, end).filter((e) => e.agent_id !== "").length,
    );
  });
});

describe("other orgs", () => {
  it.each(["org-b", "org-c"])("%s gets its own sums per bucket", async (org) => {
    const { start, end, qs } = range(CASES[2] as Case);
    const body = await json<{ series: Point[]; totals: Record<string, number> }>(`/v1/analytics/usage?${qs}&granularity=week`, org);
    const evs = select(events, org, start, end);
    const byLabel = groupBy(evs, (e) => bucketLabel("week", "America/New_York", e.event_time_ms));
    for (const p of body.series) expectSums(p, byLabel.get(bucketLabel("week", "America/New_York", Date.parse(p.bucket))) ?? [], p.bucket);
    expectSums(body.totals, evs, `${org} totals`);
  });
});

describe("filters", () => {
  it("user_id filter and group_by user_id read raw and the daily rollup correctly", async () => {
    const { start, end, qs } = range(CASES[0] as Case);
    const body = await json<{ totals: Record<string, number>; groups: { key: string; totals: Record<string, number> }[] }>(
      `/v1/analytics/usage?${qs}&group_by=user_id&user_id=u1&user_id=u2`,
    );
    expectSums(
      body.totals,
      select(events, "org-a", start, end).filter((e) => e.user_id === "u1" || e.user_id === "u2"),
      "u1+u2",
    );
    expect(body.groups.map((g) => g.key).sort()).toEqual(["u1", "u2"]);
    const lat = await json<{ series: { requests: number }[] }>(`/v1/analytics/latency?${qs}&user_id=u3&percentile=95`);
    expect(lat.series.reduce((s, p) => s + p.requests, 0)).toBe(select(events, "org-a", start, end, { user_id: "u3" }).length);
  });
});
