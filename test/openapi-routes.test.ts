import { createIngestRoutes } from "@tokenmeter/ingest";
import { createDashboardRoutes, createQueryApp, MemoryResultCache } from "@tokenmeter/query";
import type { Hono } from "hono";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTokenmeter, type Tokenmeter } from "../apps/tokenmeter/src/app.js";
import { loadConfig } from "../apps/tokenmeter/src/config.js";
import { TEST_DATA_DIR, testDatabaseName } from "./support/store.js";

/** The dashboard's static files: served beside the page, not an API. */
const NOT_API = new Set(["GET /assets/{file}", "GET /favicon.svg", "GET /favicon.ico"]);

/** `GET /v1/budgets/{id}` for every method+path the Hono app answers (middleware, registered as ALL, left out). */
function servedRoutes(app: Hono): string[] {
  const routes = app.routes.filter((r) => r.method !== "ALL" && !r.path.includes("*"));
  return [...new Set(routes.map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}")}`))].sort();
}

// The all-in-one mounts every route group a service serves (query, ingest,
// pricing, dashboard, and whatever is added later), so it is the one app to
// enumerate: a route added anywhere without an OpenAPI entry fails here, by name.
describe("/v1/openapi.json covers every served route", () => {
  let tm: Tokenmeter;
  let doc: { paths: Record<string, Record<string, unknown>> };

  beforeAll(async () => {
    const parsed = loadConfig({
      TOKENMETER_PORT: "0",
      TOKENMETER_DATA_DIR: TEST_DATA_DIR,
      TOKENMETER_CLICKHOUSE_DATABASE: testDatabaseName(),
      TOKENMETER_JWT_SECRET: "o".repeat(40),
      TOKENMETER_DEMO: "0",
      TOKENMETER_PRICING_SOURCE: "bundled",
    });
    if (!parsed.ok) throw new Error(parsed.errors.join("; "));
    tm = await startTokenmeter(parsed.config, { logger: pino({ level: "warn" }), mount: [createDashboardRoutes()] });
    doc = (await (await fetch(`${tm.url}/v1/openapi.json`)).json()) as typeof doc;
  }, 120_000);

  afterAll(async () => {
    await tm?.stop();
  });

  it("has an operation for each method and path of the all-in-one and of the standalone services", () => {
    // The standalone query and ingest services build their apps from the same functions (services/*/src/main.ts).
    const auth = { jwtSecret: "o".repeat(40) };
    const logger = pino({ level: "silent" });
    const query = createQueryApp({ store: tm.store, cache: new MemoryResultCache(), auth, logger, registry: new Registry() });
    const ingest = createIngestRoutes({ sink: tm.transport.sink, auth, logger }) as unknown as Hono;
    const all = [tm.app, query, ingest].flatMap(servedRoutes);
    const served = [...new Set(all)].filter((r) => !NOT_API.has(r));
    expect(served.length).toBeGreaterThan(10);
    const missing = served.filter((r) => {
      const [method, path] = r.split(" ") as [string, string];
      return !doc.paths[path]?.[method.toLowerCase()];
    });
    expect(missing, `served but missing from /v1/openapi.json: ${missing.join(", ")}`).toEqual([]);
  });

  it("documents POST /v1/events with the event schema, both body types and every status", () => {
    const op = doc.paths["/v1/events"]?.post as {
      requestBody: { content: Record<string, unknown> };
      responses: Record<string, unknown>;
    };
    expect(Object.keys(op.requestBody.content).sort()).toEqual(["application/json", "application/x-ndjson"]);
    expect(JSON.stringify(op.requestBody.content["application/json"])).toContain('"event_id"');
    expect(Object.keys(op.responses).sort()).toEqual(["200", "400", "401", "413", "503"]);
  });
});
