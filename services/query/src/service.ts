import type { Store } from "@tokenmeter/clickhouse";
import type { AuthOptions } from "@tokenmeter/http";
import type { Hono } from "hono";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createQueryApp } from "./app.js";
import type { ResultCache } from "./cache.js";
import { createDashboardRoutes } from "./dashboard/index.js";
import { createPricingRoutes, type PricingRoutesOptions } from "./routes/pricing.js";

export interface QueryServiceDeps {
  store: Store;
  cache: ResultCache;
  auth: AuthOptions;
  logger: Logger;
  registry: Registry;
  /** Clock in epoch ms (default Date.now). */
  now?: () => number;
  /** Readiness probes of other parts sharing this server (the all-in-one's ingest). */
  readiness?: Record<string, () => Promise<void>>;
  /** Routes of other services sharing this server (the all-in-one mounts HTTP ingest here). */
  mount?: Hono[];
  /** Called after an org's price override is stored (the all-in-one reloads its price book and re-prices). */
  onPriceOverride?: PricingRoutesOptions["onOverride"];
}

export interface QueryService {
  /** Everything the query service serves, ready for `serve({ fetch: app.fetch })` or `app.request()`. */
  app: Hono;
  /** Closes what the service holds (the result cache); the store is the caller's. */
  close(): Promise<void>;
}

/**
 * The query service, whole: the analytics API behind auth and the cache, the
 * pricing API, the dashboard (`GET /`), OpenAPI, health and metrics. The
 * standalone process (main.ts) and the all-in-one both serve exactly this, so
 * the two cannot drift apart (DESIGN.md "Service topology").
 */
export function createQueryService(deps: QueryServiceDeps): QueryService {
  const app = createQueryApp({
    store: deps.store,
    cache: deps.cache,
    auth: deps.auth,
    logger: deps.logger,
    registry: deps.registry,
    now: deps.now,
    readiness: deps.readiness,
    mount: [
      createPricingRoutes({ store: deps.store, auth: deps.auth, now: deps.now, onOverride: deps.onPriceOverride }),
      createDashboardRoutes(),
      ...(deps.mount ?? []),
    ],
  });
  return { app, close: () => deps.cache.close() };
}
