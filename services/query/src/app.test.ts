import { createHash } from "node:crypto";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { sign } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { generateEvents, insertEvents, JWT_SECRET, makeApp, type TestApp } from "./testing/fixture.js";

// HTTP behaviour around the numbers: every documented 400, auth, CSV, OpenAPI,
// health, readiness and metrics.
const NOW = Date.parse("2026-03-16T13:37:40Z");
const API_KEY = "tm_live_test_key_1";
let store: ChdbStore;
let t: TestApp;

beforeAll(async () => {
  store = await openTestStore();
  await insertEvents(store, generateEvents({ orgs: ["org-a"], perOrg: 500, from: NOW - 10 * 86_400_000, to: NOW - 1_000 }));
  t = makeApp({ store, now: NOW, apiKeyHashes: { [createHash("sha256").update(API_KEY).digest("hex")]: "org-a" } });
});
afterAll(async () => {
  await dropTestStore(store);
});

async function error(path: string) {
  const res = await t.get(path, "org-a");
  const body = (await res.json()) as { error: { code: string; message: string; details: Record<string, unknown> } };
  return { status: res.status, ...body.error };
}

describe("400 for every documented bad parameter", () => {
  it.each([
    ["unknown granularity", "/v1/analytics/usage?granularity=minute", "granularity", { allowed: ["hour", "day", "week", "month"] }],
    ["start equal to end", "/v1/analytics/usage?start=2026-03-01T00:00:00Z&end=2026-03-01T00:00:00Z", "start", {}],
    ["start after end", "/v1/analytics/usage?start=2026-03-02T00:00:00Z&end=2026-03-01T00:00:00Z", "start", {}],
    [
      "span over 400 days",
      "/v1/analytics/usage?start=2025-01-01T00:00:00Z&end=2026-03-01T00:00:00Z&granularity=month",
      "start",
      { max_days: 400 },
    ],
    [
      "over 2,000 buckets",
      "/v1/analytics/usage?start=2025-12-01T00:00:00Z&end=2026-03-01T00:00:00Z&granularity=hour",
      "granularity",
      { max_buckets: 2000 },
    ],
    ["unknown tz", "/v1/analytics/usage?tz=Mars/Olympus_Mons", "tz", {}],
    ["tz injection", "/v1/analytics/usage?tz=UTC')%20OR%201=1--", "tz", {}],
    ["bad percentile", "/v1/analytics/latency?percentile=90", "percentile", { allowed: ["50", "95", "99"] }],
    ["limit 0", "/v1/analytics/agents?limit=0", "limit", { min: 1, max: 1000 }],
    ["limit too big", "/v1/analytics/users?limit=1001", "limit", { min: 1, max: 1000 }],
    ["limit not a number", "/v1/analytics/agents?limit=ten", "limit", { min: 1, max: 1000 }],
    ["bad start", "/v1/analytics/usage?start=yesterday", "start", {}],
    [
      "unknown group_by",
      "/v1/analytics/usage?group_by=org_id",
      "group_by",
      { allowed: ["provider", "model", "agent_id", "project_id", "user_id", "operation", "tag.<key>"] },
    ],
    ["org_id as a parameter", "/v1/analytics/usage?org_id=org-b", "org_id", {}],
    ["a single parameter twice", "/v1/analytics/usage?granularity=day&granularity=hour", "granularity", {}],
    ["group_by where it does not apply", "/v1/analytics/models?group_by=model", "group_by", {}],
    ["__proto__ like any unknown parameter", "/v1/analytics/usage?__proto__=x", "__proto__", {}],
    ["constructor like any unknown parameter", "/v1/analytics/summary?constructor=x", "constructor", {}],
    [
      "a summary in year 0 (its previous period too)",
      "/v1/analytics/summary?start=0000-01-01T00:00:00Z&end=0000-01-02T00:00:00Z",
      "start",
      { min: "1970-01-01T00:00:00.000Z", max: "2100-01-01T00:00:00.000Z" },
    ],
    [
      "a summary whose previous period starts before 1970",
      "/v1/analytics/summary?start=1970-01-01T00:00:00Z&end=1970-01-02T00:00:00Z",
      "start",
      {},
    ],
    ["a range in year 0", "/v1/analytics/usage?start=0000-01-01T00:00:00Z&end=0000-01-02T00:00:00Z", "start", {}],
    ["a range past 2100", "/v1/analytics/agents?start=2200-01-01T00:00:00Z&end=2200-01-02T00:00:00Z", "end", {}],
  ])("%s", async (_name, path, parameter, extra) => {
    const e = await error(path);
    expect(e.status).toBe(400);
    expect(e.code).toBe("invalid_parameter");
    expect(e.details.parameter).toBe(parameter);
    expect(e.message).toContain(parameter);
    expect(e.details).toMatchObject(extra);
  });
});

describe("400 lists every problem of a request", () => {
  it("a bad tz, a bad granularity and an unknown parameter together", async () => {
    const e = await error("/v1/analytics/usage?tz=Mars/Olympus_Mons&granularity=minute&colour=red");
    expect(e.status).toBe(400);
    const issues = e.details.issues as { parameter: string }[];
    expect(issues.map((i) => i.parameter).sort()).toEqual(["colour", "granularity", "tz"]);
    for (const p of ["tz", "granularity", "colour"]) expect(e.message).toContain(p);
  });

  it("too many buckets offers only the granularities that fit", async () => {
    const e = await error("/v1/analytics/usage?start=2025-12-01T00:00:00Z&end=2026-03-01T00:00:00Z&granularity=hour");
    expect(e.details.allowed).toEqual(["day", "week", "month"]);
  });
});

describe("date-only start and end", () => {
  it("are local midnight in tz", async () => {
    const res = await t.get("/v1/analytics/usage?start=2026-03-09&end=2026-03-11&tz=America/New_York", "org-a");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { start: string; end: string; series: { bucket: string }[] };
    expect(body.start).toBe("2026-03-09T04:00:00.000Z");
    expect(body.end).toBe("2026-03-11T04:00:00.000Z");
    expect(body.series.map((s) => s.bucket)).toEqual(["2026-03-09T04:00:00.000Z", "2026-03-10T04:00:00.000Z"]);
  });

  it("a date that is not one is a 400 naming the parameter", async () => {
    const e = await error("/v1/analytics/usage?start=2026-02-30");
    expect(e.status).toBe(400);
    expect(e.details.parameter).toBe("start");
  });
});

describe("ranges at the edge of what the engine holds", () => {
  it("answers every endpoint for the first day of 1970, and the summary once its previous period fits", async () => {
    // An app of its own, so the metrics test below counts only its own requests.
    const edge = makeApp({ store, now: NOW });
    for (const name of ["usage", "latency", "models", "errors", "agents", "users"]) {
      const res = await edge.get(`/v1/analytics/${name}?start=1970-01-01T00:00:00Z&end=1970-01-02T00:00:00Z`, "org-a");
      expect({ name, status: res.status }).toEqual({ name, status: 200 });
    }
    const summary = await edge.get("/v1/analytics/summary?start=1970-01-02T00:00:00Z&end=1970-01-03T00:00:00Z", "org-a");
    expect(summary.status).toBe(200);
    expect(((await summary.json()) as { requests: number }).requests).toBe(0);
  });
});

describe("auth", () => {
  it("answers 401 without, with a forged, an expired or an org-less token", async () => {
    const now = Math.floor(Date.now() / 1000);
    const tokens = [
      undefined,
      await sign({ org_id: "org-a", exp: now + 60 }, "another-secret-another-secret-0000", "HS256"),
      await sign({ org_id: "org-a", exp: now - 60 }, JWT_SECRET, "HS256"),
      await sign({ sub: "x", exp: now + 60 }, JWT_SECRET, "HS256"),
      "not-a-key",
    ];
    for (const token of tokens) {
      const res = await t.app.request("/v1/analytics/summary", { headers: token ? { authorization: `Bearer ${token}` } : {} });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    }
  });

  it("accepts a hashed static API key mapped to its org", async () => {
    const res = await t.app.request("/v1/analytics/summary", { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { requests: number }).requests).toBeGreaterThan(0);
  });
});

describe("formats and operations", () => {
  it("returns CSV for format=csv and for Accept: text/csv", async () => {
    const a = await t.get("/v1/analytics/usage?granularity=day", "org-a", { accept: "text/csv" });
    expect(a.headers.get("content-type")).toContain("text/csv");
    const lines = (await a.text()).trim().split("\n");
    expect(lines[0]).toBe("bucket,requests,errors,input_tokens,output_tokens,cached_input_tokens,reasoning_tokens,total_tokens,cost_usd");
    expect(lines).toHaveLength(1 + 8); // 7 days back from a minute-snapped end touch 8 UTC days
    const b = await t.get("/v1/analytics/latency?format=csv&percentile=95", "org-a");
    expect((await b.text()).split("\n")[0]).toBe("bucket,requests,ttfb_ms.p95,proxy_overhead_ms.p95,duration_ms.p95");
    const s = await t.get("/v1/analytics/summary?format=csv", "org-a");
    expect((await s.text()).split("\n")[0]).toMatch(/^period,start,end,requests,/);
  });

  it("publishes OpenAPI generated from the parameter schemas", async () => {
    const res = await t.app.request("/v1/openapi.json");
    const doc = (await res.json()) as {
      paths: Record<string, { get: { parameters: { name: string; schema: Record<string, unknown> }[] } }>;
    };
    expect(
      Object.keys(doc.paths)
        .filter((p) => p.startsWith("/v1/analytics/"))
        .sort(),
    ).toEqual(["agents", "errors", "latency", "models", "summary", "usage", "users"].map((e) => `/v1/analytics/${e}`));
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/budgets", "/v1/budgets/check", "/v1/alerts/rules", "/v1/alerts/deliveries/{id}/resend"]),
    );
    expect(Object.keys(doc.paths)).toContain("/v1/traces");
    for (const p of ["/v1/pricing/overrides", "/v1/pricing/overrides/{model}", "/v1/tags/keys", "/v1/tags/values"]) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
    const gran = doc.paths["/v1/analytics/usage"]?.get.parameters.find((p) => p.name === "granularity");
    expect(gran?.schema).toMatchObject({ enum: ["hour", "day", "week", "month"] });
  });

  it("serves healthz, readyz and metrics by route and status", async () => {
    expect((await t.app.request("/healthz")).status).toBe(200);
    const ready = await t.app.request("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ok", checks: { store: "ok", cache: "ok" } });
    await t.get("/v1/analytics/models", "org-a");
    await t.get("/v1/analytics/models", "org-a");
    await t.get("/v1/analytics/models?limit=1", "org-a");
    const text = await (await t.app.request("/metrics")).text();
    expect(text).toMatch(/tokenmeter_query_http_requests_total\{route="\/v1\/analytics\/models",method="GET",status="200"\} 2/);
    expect(text).toMatch(/tokenmeter_query_http_requests_total\{route="\/v1\/analytics\/models",method="GET",status="400"\} \d+/);
    expect(text).toMatch(/tokenmeter_query_http_request_duration_seconds_bucket\{le="0.5",route="\/v1\/analytics\/models"/);
    expect(text).toMatch(/tokenmeter_query_cache_requests_total\{endpoint="models",result="hit"\} 1/);
    expect(text).toMatch(/tokenmeter_query_cache_requests_total\{endpoint="models",result="miss"\} 1/);
  });

  it("answers unknown routes with the error shape", async () => {
    const res = await t.app.request("/nope");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
    // Under /v1/analytics the credential is checked first: nothing is revealed to the unauthenticated.
    expect((await t.app.request("/v1/analytics/nope")).status).toBe(401);
  });
});
