import type { ChdbStore } from "@tokenmeter/clickhouse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { groupBy, isErr } from "./testing/expected.js";
import { countingStore, type GenEvent, generateEvents, insertEvents, makeApp, type TestApp } from "./testing/fixture.js";

// Query dimensions v1.1 against figures computed here from the generated events:
// operation and tag filters (repeated = OR, different = AND), group_by operation
// and tag.<key> with top-N + "(other)", the tag catalog, models per operation.
// Generated costs are whole micro-dollars, so expected costs are exact integers of 1e-6 USD.
const NOW = Date.parse("2026-03-16T13:37:40.250Z");
const START = "2026-02-20T07:30:00Z";
const END = "2026-03-16T13:37:00Z";
const RANGE = `start=${START}&end=${END}`;

let store: ChdbStore;
let events: GenEvent[];
let t: TestApp;

beforeAll(async () => {
  store = await openTestStore();
  events = generateEvents({ orgs: ["org-a", "org-b"], perOrg: 6_000, from: Date.parse("2026-02-01T00:00:00Z"), to: NOW - 1_000, seed: 7 });
  await insertEvents(store, events);
  t = makeApp({ store, now: NOW });
});
afterAll(async () => {
  await dropTestStore(store);
});

type Pred = (e: GenEvent) => boolean;
const inRange = (e: GenEvent, org = "org-a") =>
  e.org_id === org && e.event_time_ms >= Date.parse(START) && e.event_time_ms < Date.parse(END);
const pick = (p: Pred = () => true) => events.filter((e) => inRange(e) && p(e));
const micros = (evs: GenEvent[]) => evs.reduce((s, e) => s + Math.round(e.cost * 1e6), 0);
const usd = (evs: GenEvent[]) => micros(evs) / 1e6;

function totals(evs: GenEvent[]) {
  return {
    requests: evs.length,
    errors: evs.filter(isErr).length,
    input_tokens: evs.reduce((s, e) => s + e.input_tokens, 0),
    output_tokens: evs.reduce((s, e) => s + e.output_tokens, 0),
    cost_usd: usd(evs),
  };
}

async function json<T = Record<string, unknown>>(path: string, org = "org-a"): Promise<T> {
  const res = await t.get(path, org);
  if (res.status !== 200) throw new Error(`${path} → ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

type Totals = Record<string, number>;
interface Grouped {
  totals: Totals;
  groups: { key: string; totals: Totals; series: Totals[] }[];
}
const pickTotals = (x: Totals) => ({
  requests: x.requests,
  errors: x.errors,
  input_tokens: x.input_tokens,
  output_tokens: x.output_tokens,
  cost_usd: x.cost_usd,
});

describe("filters", () => {
  it.each([
    ["operation=embedding", (e: GenEvent) => e.operation === "embedding"],
    ["operation=image&operation=rerank", (e: GenEvent) => e.operation === "image" || e.operation === "rerank"],
    ["operation=chat&provider=openai", (e: GenEvent) => e.operation === "chat" && e.provider === "openai"],
    ["tag.team=growth", (e: GenEvent) => e.tags.team === "growth"],
    ["tag.team=growth&tag.team=ml", (e: GenEvent) => e.tags.team === "growth" || e.tags.team === "ml"],
    ["tag.team=core&tag.feature=f3", (e: GenEvent) => e.tags.team === "core" && e.tags.feature === "f3"],
    [
      "tag.cost.center=eu-1&model=gpt-4o&model=gpt-4o-mini",
      (e: GenEvent) => e.tags["cost.center"] === "eu-1" && e.model.startsWith("gpt-4o"),
    ],
    ["tag.team=nobody", () => false],
  ] as const)("usage with %s equals the events' totals, per bucket too", async (qs, pred) => {
    const body = await json<{ totals: Totals; series: (Totals & { bucket: string })[] }>(`/v1/analytics/usage?${RANGE}&${qs}`);
    const evs = pick(pred);
    expect(pickTotals(body.totals)).toEqual(totals(evs));
    const byDay = groupBy(evs, (e) => new Date(e.event_time_ms).toISOString().slice(0, 10));
    for (const p of body.series) expect(p.requests, p.bucket).toBe(byDay.get(p.bucket.slice(0, 10))?.length ?? 0);
  });

  it("applies to every analytics endpoint: summary, errors, latency, models, agents, users", async () => {
    const qs = `${RANGE}&tag.team=growth&operation=chat&operation=embedding`;
    const pred = (e: GenEvent) => e.tags.team === "growth" && (e.operation === "chat" || e.operation === "embedding");
    const evs = pick(pred);
    const summary = await json<Totals>(`/v1/analytics/summary?${qs}`);
    expect([summary.requests, summary.errors, summary.cost_usd, summary.unpriced_requests]).toEqual([
      evs.length,
      evs.filter(isErr).length,
      usd(evs),
      evs.filter((e) => e.cost_source === "unpriced").length,
    ]);
    const errors = await json<{ totals: Totals }>(`/v1/analytics/errors?${qs}`);
    expect([errors.totals.requests, errors.totals.errors]).toEqual([evs.length, evs.filter(isErr).length]);
    const latency = await json<{ series: Totals[] }>(`/v1/analytics/latency?${qs}`);
    expect(latency.series.reduce((s, p) => s + (p.requests as number), 0)).toBe(evs.length);
    const models = await json<{ models: Totals[] }>(`/v1/analytics/models?${qs}`);
    expect(models.models.reduce((s, m) => s + (m.requests as number), 0)).toBe(evs.length);
    const agents = await json<{ agents: Totals[] }>(`/v1/analytics/agents?${qs}&limit=100`);
    expect(agents.agents.reduce((s, a) => s + (a.requests as number), 0)).toBe(evs.filter((e) => e.agent_id !== "").length);
    const users = await json<{ users: (Totals & { user_id: string })[] }>(`/v1/analytics/users?${qs}&limit=100`);
    const wantUsers = [
      ...groupBy(
        evs.filter((e) => e.user_id !== ""),
        (e) => e.user_id,
      ),
    ].map(([k, v]) => [k, v.length, usd(v)]);
    expect(users.users.map((u) => [u.user_id, u.requests, u.cost_usd]).sort()).toEqual(wantUsers.sort());
  });

  it("rejects an operation outside the enum and a malformed tag key with 400", async () => {
    for (const path of ["/v1/analytics/usage?operation=video", "/v1/analytics/models?operation=chat&operation=bogus"]) {
      const res = await t.get(path, "org-a");
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { details: { parameter: string } } }).error.details.parameter).toBe("operation");
    }
    for (const path of ["/v1/analytics/usage?tag.=x", "/v1/analytics/usage?tag.bad%20key=x", "/v1/analytics/usage?group_by=tag.a%20b"]) {
      expect((await t.get(path, "org-a")).status, path).toBe(400);
    }
  });
});

describe("group_by", () => {
  it("operation: one group per operation, ranked by cost, adding up to the totals, read from a rollup", async () => {
    const counted = countingStore(store);
    const sqls: string[] = [];
    const app = makeApp({
      store: {
        ...counted,
        query: (async (sql: string, p?: Record<string, unknown>) => {
          sqls.push(sql);
          return await counted.query(sql, p);
        }) as typeof counted.query,
      },
      now: NOW,
    });
    const res = await app.get(`/v1/analytics/usage?start=2026-02-21T00:00:00Z&end=2026-03-16T00:00:00Z&group_by=operation`, "org-a");
    const body = (await res.json()) as Grouped;
    expect(sqls.join(" ")).toContain("FROM llm_usage_model_hourly");
    expect(sqls.join(" ")).not.toMatch(/FROM llm_usage WHERE/);
    const evs = events.filter(
      (e) =>
        e.org_id === "org-a" &&
        e.event_time_ms >= Date.parse("2026-02-21T00:00:00Z") &&
        e.event_time_ms < Date.parse("2026-03-16T00:00:00Z"),
    );
    const want = [...groupBy(evs, (e) => e.operation)].map(([key, v]) => ({ key, ...totals(v) }));
    want.sort((a, b) => b.cost_usd - a.cost_usd || (a.key < b.key ? -1 : 1));
    expect(body.groups.map((g) => ({ key: g.key, ...pickTotals(g.totals) }))).toEqual(want);
  });

  it('tag.<key> with limit: the top groups by cost, events without the tag in "", the rest in (other), all adding up', async () => {
    const body = await json<Grouped>(`/v1/analytics/usage?${RANGE}&group_by=tag.team&limit=3&granularity=week`);
    const evs = pick();
    const ranked = [...groupBy(evs, (e) => e.tags.team ?? "")]
      .map(([key, v]) => ({ key, v, m: micros(v) }))
      .sort((a, b) => b.m - a.m || (a.key < b.key ? -1 : 1));
    expect(ranked.map((r) => r.key)).toContain("");
    const rest = ranked.slice(3).flatMap((r) => r.v);
    const want = [...ranked.slice(0, 3).map((r) => ({ key: r.key, ...totals(r.v) })), { key: "(other)", ...totals(rest) }];
    expect(body.groups.map((g) => ({ key: g.key, ...pickTotals(g.totals) }))).toEqual(want);
    // Integer figures add up exactly; cost adds up in micro-dollars.
    for (const k of ["requests", "errors", "input_tokens", "output_tokens"] as const) {
      expect(body.groups.reduce((s, g) => s + (g.totals[k] as number), 0)).toBe(body.totals[k]);
    }
    expect(body.groups.reduce((s, g) => s + Math.round((g.totals.cost_usd as number) * 1e6), 0)).toBe(
      Math.round((body.totals.cost_usd as number) * 1e6),
    );
    // Default limit 10 holds all 6 team values: no (other).
    const all = await json<Grouped>(`/v1/analytics/usage?${RANGE}&group_by=tag.team`);
    expect(all.groups.map((g) => g.key).sort()).toEqual(ranked.map((r) => r.key).sort());
  });

  it("tag.cost.center splits at the first dot; errors by tag rank by errors", async () => {
    const usage = await json<Grouped>(`/v1/analytics/usage?${RANGE}&group_by=tag.cost.center`);
    const evs = pick();
    expect(Object.fromEntries(usage.groups.map((g) => [g.key, g.totals.requests]))).toEqual(
      Object.fromEntries([...groupBy(evs, (e) => e.tags["cost.center"] ?? "")].map(([k, v]) => [k, v.length])),
    );
    const errors = await json<Grouped>(`/v1/analytics/errors?${RANGE}&group_by=tag.feature&limit=4`);
    const ranked = [...groupBy(evs, (e) => e.tags.feature ?? "")]
      .map(([key, v]) => ({ key, errors: v.filter(isErr).length, requests: v.length }))
      .sort((a, b) => b.errors - a.errors || (a.key < b.key ? -1 : 1));
    const other = ranked.slice(4);
    expect(errors.groups.map((g) => [g.key, g.totals.errors, g.totals.requests])).toEqual([
      ...ranked.slice(0, 4).map((r) => [r.key, r.errors, r.requests]),
      ["(other)", other.reduce((s, r) => s + r.errors, 0), other.reduce((s, r) => s + r.requests, 0)],
    ]);
  });

  it("limit for groups is 1-100", async () => {
    expect((await t.get(`/v1/analytics/usage?group_by=model&limit=101`, "org-a")).status).toBe(400);
    expect((await t.get(`/v1/analytics/errors?group_by=model&limit=100`, "org-a")).status).toBe(200);
  });
});

describe("models per (provider, model, operation)", () => {
  it("carries operation, unpriced_requests and exact costs", async () => {
    const body = await json<{ models: (Totals & { provider: string; model: string; operation: string })[] }>(
      `/v1/analytics/models?${RANGE}`,
    );
    const want = [...groupBy(pick(), (e) => `${e.provider}|${e.model}|${e.operation}`)].map(([k, v]) => ({
      k,
      requests: v.length,
      unpriced_requests: v.filter((e) => e.cost_source === "unpriced").length,
      cost_usd: usd(v),
    }));
    const got = body.models.map((m) => ({
      k: `${m.provider}|${m.model}|${m.operation}`,
      requests: m.requests,
      unpriced_requests: m.unpriced_requests,
      cost_usd: m.cost_usd,
    }));
    expect(got).toEqual([...want].sort((a, b) => b.cost_usd - a.cost_usd || b.requests - a.requests || (a.k < b.k ? -1 : 1)));
  });
});

describe("tag catalog", () => {
  it("lists keys by use and a key's values by use, org-scoped", async () => {
    const keys = await json<{ keys: { key: string; requests: number }[] }>(`/v1/tags/keys?${RANGE}`);
    const count = (evs: GenEvent[], f: (e: GenEvent) => string[]) => {
      const m = new Map<string, number>();
      for (const e of evs) for (const k of f(e)) m.set(k, (m.get(k) ?? 0) + 1);
      return [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    };
    expect(keys.keys.map((k) => [k.key, k.requests])).toEqual(count(pick(), (e) => Object.keys(e.tags)));
    const values = await json<{ key: string; values: { value: string; requests: number }[] }>(`/v1/tags/values?${RANGE}&key=team&limit=3`);
    expect(values.key).toBe("team");
    expect(values.values.map((v) => [v.value, v.requests])).toEqual(count(pick(), (e) => (e.tags.team ? [e.tags.team] : [])).slice(0, 3));
    // Another org sees its own counts; no credential → 401; no key → 400.
    const b = await json<{ keys: { key: string; requests: number }[] }>(`/v1/tags/keys?${RANGE}`, "org-b");
    expect(b.keys.map((k) => [k.key, k.requests])).toEqual(
      count(
        events.filter((e) => inRange(e, "org-b")),
        (e) => Object.keys(e.tags),
      ),
    );
    expect((await t.app.request(`/v1/tags/keys?${RANGE}`)).status).toBe(401);
    expect((await t.get(`/v1/tags/values?${RANGE}`, "org-a")).status).toBe(400);
    expect((await t.get(`/v1/tags/keys?limit=1001`, "org-a")).status).toBe(400);
  });
});

describe("cache keys", () => {
  it("are canonical over parameter order and repeated values, and differ by tag value", async () => {
    const a = await t.get(`/v1/analytics/usage?${RANGE}&tag.team=ml&tag.team=core&operation=chat`, "org-a");
    expect(a.headers.get("x-cache")).toBe("MISS");
    const b = await t.get(`/v1/analytics/usage?operation=chat&tag.team=core&${RANGE}&tag.team=ml&tag.team=core`, "org-a");
    expect(b.headers.get("x-cache")).toBe("HIT");
    const c = await t.get(`/v1/analytics/usage?${RANGE}&tag.team=ml&operation=chat`, "org-a");
    expect(c.headers.get("x-cache")).toBe("MISS");
  });
});
