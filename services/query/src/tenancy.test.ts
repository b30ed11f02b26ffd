import type { ChdbStore } from "@tokenmeter/clickhouse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { generateEvents, insertEvents, makeApp, type TestApp } from "./testing/fixture.js";

// A token of org B never sees a row of org A, through any endpoint, filter or
// group_by; hostile values in every parameter give 400 or empty results.
const NOW = Date.parse("2026-03-16T13:37:40Z");
const ENDPOINTS = ["usage", "latency", "models", "errors", "agents", "users", "summary"];
let store: ChdbStore;
let t: TestApp;

beforeAll(async () => {
  store = await openTestStore();
  const from = NOW - 5 * 86_400_000;
  // Org A's dimension values are marked so any leak is visible in org B's answers.
  const a = generateEvents({ orgs: ["org-a"], perOrg: 400, from, to: NOW - 1000, seed: 1 }).map((e) => ({
    ...e,
    project_id: `A-${e.project_id}`,
    agent_id: "A-agent",
    user_id: "A-user",
    model: "A-model",
    provider: "A-provider",
  }));
  const b = generateEvents({ orgs: ["org-b"], perOrg: 50, from, to: NOW - 1000, seed: 2 });
  await insertEvents(store, [...a, ...b]);
  t = makeApp({ store, now: NOW });
});
afterAll(async () => {
  await dropTestStore(store);
});

const ORG_A_VALUES = /A-(agent|user|model|provider|web|api|batch)|org-a/;

describe("tenancy", () => {
  it("org B's answers hold none of org A's rows, whatever the filters and grouping", async () => {
    const variants = [
      "",
      "&agent_id=A-agent",
      "&user_id=A-user",
      "&model=A-model",
      "&provider=A-provider",
      "&project_id=A-web",
      ...["provider", "model", "agent_id", "project_id", "user_id"].map((g) => `&group_by=${g}`),
    ];
    for (const e of ENDPOINTS) {
      for (const v of variants) {
        if (v.includes("group_by") && e !== "usage" && e !== "errors") continue;
        for (const gran of ["hour", "day"]) {
          const path = `/v1/analytics/${e}?granularity=${gran}${v}`;
          const res = await t.get(path, "org-b");
          expect(res.status, path).toBe(200);
          const text = await res.text();
          expect(text, path).not.toMatch(ORG_A_VALUES);
          const body = JSON.parse(text) as Record<string, unknown>;
          // Filtering on org A's values leaves org B with nothing at all.
          if (v.includes("=A-") && e === "summary") expect(body.requests, path).toBe(0);
          if (v.includes("=A-") && e === "usage") expect((body.totals as { requests: number }).requests, path).toBe(0);
        }
      }
    }
  });

  it("org B's totals are its own events only", async () => {
    const b = (await (await t.get("/v1/analytics/summary", "org-b")).json()) as { requests: number };
    const a = (await (await t.get("/v1/analytics/summary", "org-a")).json()) as { requests: number };
    expect(b.requests).toBe(50);
    expect(a.requests).toBe(400);
  });

  it("never takes the org from a parameter", async () => {
    for (const e of ENDPOINTS) {
      const res = await t.get(`/v1/analytics/${e}?org_id=org-a`, "org-b");
      expect(res.status).toBe(400);
    }
  });
});

describe("injection", () => {
  const hostile = [
    "' OR 1=1 --",
    "x') OR ('1'='1",
    "{org_id:String}",
    "org-a' UNION ALL SELECT * FROM llm_usage --",
    "\\' OR org_id != '",
    "A-model\u0000",
  ];

  it("hostile filter and error_code values are plain strings: 200 with nothing of org A", async () => {
    for (const h of hostile) {
      for (const p of ["project_id", "agent_id", "user_id", "provider", "model"]) {
        for (const e of ["usage", "models", "summary", "users"]) {
          const res = await t.get(`/v1/analytics/${e}?${p}=${encodeURIComponent(h)}`, "org-b");
          expect(res.status).toBe(200);
          const text = await res.text();
          expect(text).not.toMatch(ORG_A_VALUES);
          if (e === "summary") expect((JSON.parse(text) as { requests: number }).requests).toBe(0);
        }
      }
      const err = await t.get(`/v1/analytics/errors?error_code=${encodeURIComponent(h)}`, "org-b");
      expect(err.status).toBe(200);
      expect((JSON.parse(await err.text()) as { totals: { errors: number } }).totals.errors).toBe(0);
    }
  });

  it("hostile values in every other parameter are 400", async () => {
    const params = ["start", "end", "granularity", "tz", "group_by", "percentile", "limit", "format"];
    for (const h of hostile) {
      for (const p of params) {
        const e = p === "percentile" ? "latency" : p === "limit" ? "agents" : "usage";
        const res = await t.get(`/v1/analytics/${e}?${p}=${encodeURIComponent(h)}`, "org-b");
        expect(res.status, `${p}=${h}`).toBe(400);
      }
      const key = await t.get(`/v1/analytics/usage?${encodeURIComponent(h)}=1`, "org-b");
      expect(key.status).toBe(400);
    }
  });
});
