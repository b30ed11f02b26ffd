import { readyTagRollupKeys, type Store, StoreError } from "@tokenmeter/clickhouse";
import { ApiError, type AuthEnv, type AuthOptions, authenticate, createErrorHandler } from "@tokenmeter/http";
import { stringify } from "csv-stringify/sync";
import { Hono } from "hono";
import { routePath } from "hono/route";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createAlertApi } from "./alerts/api.js";
import type { DeliveryPolicy } from "./alerts/deliver.js";
import { createBudgetApi } from "./budgets/api.js";
import { type BudgetRuntime, createBudgetRuntime } from "./budgets/runtime.js";
import type { ResultCache } from "./cache.js";
import { cacheKey, createCacheAside } from "./cache-aside.js";
import type { EndpointDef, QueryContext } from "./endpoint.js";
import { queryMetrics } from "./metrics.js";
import { buildOpenApi } from "./openapi.js";
import { canonicalParams, collectParams, parseQuery } from "./params.js";
import { agents } from "./routes/agents.js";
import { errors } from "./routes/errors.js";
import { latency } from "./routes/latency.js";
import { models } from "./routes/models.js";
import { summary } from "./routes/summary.js";
import { tagKeys, tagValues } from "./routes/tags.js";
import { usage } from "./routes/usage.js";
import { users } from "./routes/users.js";

export interface QueryAppOptions {
  store: Store;
  cache: ResultCache;
  auth: AuthOptions;
  logger: Logger;
  registry: Registry;
  /** Clock in epoch ms (default Date.now): the default `end`. */
  now?: () => number;
  /** Extra readiness checks (e.g. the Kafka producer); name → async probe. */
  readiness?: Record<string, () => Promise<void>>;
  /** Budgets' check snapshot and reservations (default: in memory, built here). */
  budgets?: BudgetRuntime;
  /** Webhook policy for the alert test/resend routes (default: DESIGN.md's, private targets refused). */
  alertPolicy?: DeliveryPolicy;
  /** Extra route groups mounted at "/" (dashboard, pricing, ingest). */
  mount?: Hono[];
  /**
   * Promoted tag keys the planner may read from the tag rollup. Default: the
   * 'ready' keys of tag_rollup_keys, re-read at most every 30 s (a failed read
   * means none: tags are then answered from raw rows, never wrongly).
   */
  tagRollupKeys?: () => Promise<ReadonlySet<string>>;
}

/** Ready promoted tag keys from the store, cached for `ttlMs`. */
export function storedTagRollupKeys(store: Store, ttlMs = 30_000, clock: () => number = Date.now): () => Promise<ReadonlySet<string>> {
  let cached: { at: number; keys: ReadonlySet<string> } | undefined;
  return async () => {
    if (cached && clock() - cached.at < ttlMs) return cached.keys;
    let keys: ReadonlySet<string> = new Set();
    try {
      keys = await readyTagRollupKeys(store);
    } catch {
      // Schema without 0009, or the store briefly down: raw answers tag questions.
    }
    cached = { at: clock(), keys };
    return keys;
  };
}

/** Runs an endpoint's query; a zone ICU accepts but the store cannot load is the client's 400, not a 500. */
async function runQuery(e: EndpointDef, ctx: QueryContext): Promise<unknown> {
  try {
    return await e.run(ctx);
  } catch (err) {
    if (err instanceof StoreError && /time zone/i.test(err.message)) {
      throw new ApiError("invalid_parameter", "tz must be an IANA time zone such as UTC or America/New_York", {
        parameter: "tz",
        received: ctx.q.tz,
      });
    }
    throw err;
  }
}

export const ENDPOINTS: readonly EndpointDef[] = [
  usage,
  latency,
  models,
  errors,
  agents,
  users,
  summary,
  tagKeys,
  tagValues,
] as EndpointDef[];

/** Cache TTL by granularity (docs/api.md): fine buckets change faster. */
export function ttlSeconds(granularity: string): number {
  return granularity === "week" || granularity === "month" ? 300 : 60;
}

/**
 * The query service: every /v1/analytics/* endpoint behind auth and the
 * result cache, plus /v1/openapi.json, /healthz, /readyz and /metrics.
 */
export function createQueryApp(opts: QueryAppOptions): Hono {
  const app = new Hono<AuthEnv>();
  const now = opts.now ?? Date.now;
  const metrics = queryMetrics(opts.registry);
  const cached = createCacheAside({ cache: opts.cache, logger: opts.logger, metrics });
  const openapi = JSON.stringify(buildOpenApi(ENDPOINTS));
  const tagRollupKeys = opts.tagRollupKeys ?? storedTagRollupKeys(opts.store);

  app.onError(createErrorHandler(opts.logger));
  app.notFound(() => {
    throw new ApiError("not_found", "no such route");
  });

  // 1. Request metrics by route pattern (never the raw path: bounded label values).
  app.use("*", async (c, next) => {
    const t0 = performance.now();
    await next();
    const route = routePath(c, -1);
    const labels = { route: route === "*" || route === "/*" ? "unmatched" : route, method: c.req.method, status: String(c.res.status) };
    metrics.requests.inc(labels);
    metrics.duration.observe(labels, (performance.now() - t0) / 1000);
  });

  // 2. Operations endpoints, unauthenticated.
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const checks: Record<string, string> = {};
    const probe = async (name: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
        checks[name] = "ok";
      } catch (err) {
        checks[name] = `failed: ${(err as Error).message}`;
      }
    };
    await Promise.all([
      probe("store", () => opts.store.query("SELECT 1 AS ok")),
      probe("cache", () => opts.cache.ping()),
      ...Object.entries(opts.readiness ?? {}).map(([name, fn]) => probe(name, fn)),
    ]);
    // The cache is optional for serving (misses go to the store): down means degraded, not unready.
    const failed = Object.entries(checks).filter(([name, v]) => v !== "ok" && name !== "cache");
    const status = failed.length > 0 ? "unavailable" : checks.cache === "ok" ? "ok" : "degraded";
    return c.json({ status, checks }, failed.length > 0 ? 503 : 200);
  });
  app.get("/metrics", async (c) => c.text(await opts.registry.metrics(), 200, { "Content-Type": opts.registry.contentType }));
  app.get("/v1/openapi.json", (c) => c.body(openapi, 200, { "Content-Type": "application/json" }));

  // 3. Analytics: org from the credential only, then validate, then cache-aside.
  app.use("/v1/analytics/*", authenticate(opts.auth));
  app.use("/v1/tags/*", authenticate(opts.auth));
  for (const e of ENDPOINTS) {
    app.get(e.path, async (c) => {
      const { org_id } = c.get("principal");
      const q = parseQuery(e.name, collectParams(c.req.queries()), now(), c.req.header("accept"));
      const ttl = ttlSeconds(q.granularity);
      // v2: Contract v1.1 answers (exact money, operation rows); an older cached body never answers a newer question.
      const key = cacheKey(org_id, `${e.name}@v2`, canonicalParams(q));
      const started = performance.now();
      const res = await cached(e.name, key, ttl, async () =>
        JSON.stringify(await runQuery(e, { store: opts.store, org_id, q, tagRollupKeys: await tagRollupKeys() })),
      );
      const headers = {
        "X-Cache": res.hit ? "HIT" : "MISS",
        "Cache-Control": `private, max-age=${ttl}`,
        // Browser dev tools (and bench/page-load) show where a slow answer spent its time.
        "Server-Timing": serverTiming(res.hit, performance.now() - started),
      };
      if (q.format === "csv") {
        const table = e.csv(JSON.parse(res.body));
        const text = stringify(table.rows, { header: true, columns: table.columns, cast: { boolean: (b) => String(b) } });
        return c.body(text, 200, {
          ...headers,
          "Content-Type": "text/csv; charset=utf-8",
          "Content-Disposition": `attachment; filename="${e.name}.csv"`,
        });
      }
      return c.body(res.body, 200, { ...headers, "Content-Type": "application/json" });
    });
  }

  // 4. Budgets and alerts (org-scoped CRUD, status, the pre-call check).
  const budgets = opts.budgets ?? createBudgetRuntime({ store: opts.store, logger: opts.logger, now });
  app.route("/", createBudgetApi({ store: opts.store, auth: opts.auth, runtime: budgets, now }));
  app.route(
    "/",
    createAlertApi({
      store: opts.store,
      auth: opts.auth,
      logger: opts.logger,
      now,
      ...(opts.alertPolicy ? { policy: opts.alertPolicy } : {}),
    }),
  );

  for (const m of opts.mount ?? []) app.route("/", m);
  return app as unknown as Hono;
}

/** `Server-Timing` of an analytics answer: a cache hit, or the store query it ran (or joined). */
export function serverTiming(hit: boolean, ms: number): string {
  return `${hit ? "cache" : "store"};dur=${ms.toFixed(1)}`;
}
