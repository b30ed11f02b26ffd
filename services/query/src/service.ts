import type { Store } from "@tokenmeter/clickhouse";
import { createOutageLog } from "@tokenmeter/core";
import type { AuthOptions } from "@tokenmeter/http";
import { connectPricingUpdates, type PricingUpdates, StragglerPasses } from "@tokenmeter/pricing";
import type { Hono } from "hono";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { DeliveryPolicy } from "./alerts/deliver.js";
import { createQueryApp } from "./app.js";
import { RedisReservations } from "./budgets/reservations.js";
import { type BudgetRuntime, createBudgetRuntime } from "./budgets/runtime.js";
import type { ResultCache } from "./cache.js";
import { deliveryPolicy, type QueryConfig } from "./config.js";
import { createDashboardRoutes } from "./dashboard/index.js";
import { createPricingRoutes } from "./routes/pricing.js";

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
  /**
   * Where a price override publishes "pricing updated" (the all-in-one passes the channel its ingest follows).
   * Unset: Redis when `config` names it (the channel the worker publishes on), else no other pricer is told.
   */
  pricingUpdates?: PricingUpdates;
  /**
   * The settings the service builds its budget runtime and webhook policy from
   * (the query service's and the all-in-one's configs both carry them). Unset:
   * the defaults, reservations in memory.
   */
  config?: QueryServiceSettings;
  /** A budget runtime made by the caller (tests), used instead of one built from `config`; the caller stops it. */
  budgets?: BudgetRuntime;
  /**
   * A Redis connection to hold budget reservations on (the all-in-one shares its one), when `config` names
   * Redis; unset: the service opens its own. Each reservation call is bounded by RedisReservations' timeout.
   */
  redis?: Redis;
  /** Webhook policy of the alert routes, instead of the one `config` describes. */
  alertPolicy?: DeliveryPolicy;
}

/** The settings createQueryService reads: the budget check's, webhook delivery's, a price override's straggler pass, and where Redis is. */
export type QueryServiceSettings = Pick<
  QueryConfig,
  | "TOKENMETER_BUDGET_REFRESH_MS"
  | "TOKENMETER_REDIS_URL"
  | "TOKENMETER_REDIS_KEY_PREFIX"
  | "TOKENMETER_REDIS_PREFIX"
  | "TOKENMETER_PRICING_STRAGGLER_DELAY_MS"
  | "TOKENMETER_WEBHOOK_ALLOW_PRIVATE"
  | "TOKENMETER_WEBHOOK_TIMEOUT_MS"
  | "TOKENMETER_WEBHOOK_RETRY_BASE_MS"
  | "TOKENMETER_WEBHOOK_MAX_ATTEMPTS"
>;

export interface QueryService {
  /** Everything the query service serves, ready for `serve({ fetch: app.fetch })` or `app.request()`. */
  app: Hono;
  /**
   * Closes what the service holds (a waiting or running straggler pass, the result cache, the budget runtime
   * it built); the store is the caller's.
   */
  close(): Promise<void>;
}

/**
 * The query service, whole: the analytics API behind auth and the cache, the
 * pricing API (a price override is saved, announced on "pricing updated" and
 * the model's history re-priced — in every topology), budgets (the pre-call check) and alerts, the dashboard
 * (`GET /`), OpenAPI, health and metrics. The
 * standalone process (main.ts) and the all-in-one both serve exactly this, so
 * the two cannot drift apart (DESIGN.md "Service topology").
 */
export function createQueryService(deps: QueryServiceDeps): QueryService {
  const budgets = deps.budgets ? { runtime: deps.budgets, close: async () => {} } : startBudgets(deps);
  const alertPolicy = deps.alertPolicy ?? (deps.config ? deliveryPolicy(deps.config) : undefined);
  // "pricing updated" after a price override: the caller's channel, else the deployment's Redis one.
  const ownUpdates =
    !deps.pricingUpdates && deps.config?.TOKENMETER_REDIS_URL ? connectPricingUpdates(deps.config, deps.logger) : undefined;
  // A price override's second pass, in the background after the answer; close() ends its wait.
  const stragglers = new StragglerPasses({
    store: deps.store,
    logger: deps.logger,
    now: deps.now,
    ...(deps.config ? { delayMs: deps.config.TOKENMETER_PRICING_STRAGGLER_DELAY_MS } : {}),
  });
  const app = createQueryApp({
    store: deps.store,
    cache: deps.cache,
    auth: deps.auth,
    logger: deps.logger,
    registry: deps.registry,
    now: deps.now,
    readiness: deps.readiness,
    budgets: budgets.runtime,
    ...(alertPolicy ? { alertPolicy } : {}),
    mount: [
      createPricingRoutes({
        store: deps.store,
        auth: deps.auth,
        now: deps.now,
        logger: deps.logger,
        updates: deps.pricingUpdates ?? ownUpdates?.updates,
        stragglers,
      }),
      createDashboardRoutes(),
      ...(deps.mount ?? []),
    ],
  });
  return {
    app,
    async close() {
      // First: a running pass still needs the store and stops at its next safe point.
      await stragglers.close();
      await budgets.close();
      await deps.cache.close();
      ownUpdates?.close();
    },
  };
}

/** The pre-call check's snapshot; reservations in Redis when configured, so every replica sees each hold. */
function startBudgets(deps: QueryServiceDeps): { runtime: BudgetRuntime; close(): Promise<void> } {
  const url = deps.config?.TOKENMETER_REDIS_URL;
  // One retry per command: a hold must answer within its bound, not queue behind a reconnect.
  const own = url && !deps.redis ? new Redis(url, { maxRetriesPerRequest: 1 }) : undefined;
  // Without an error listener ioredis prints every reconnect failure with a stack; one warn line per outage instead.
  if (own) createOutageLog(deps.logger, "redis (budget reservations)").watch(own);
  const redis = url ? (deps.redis ?? own) : undefined;
  const runtime = createBudgetRuntime({
    store: deps.store,
    logger: deps.logger,
    now: deps.now ?? Date.now,
    ...(deps.config ? { refreshMs: deps.config.TOKENMETER_BUDGET_REFRESH_MS } : {}),
    ...(redis && deps.config ? { reservations: new RedisReservations(redis, `${deps.config.TOKENMETER_REDIS_KEY_PREFIX}budgets`) } : {}),
  });
  return {
    runtime,
    async close() {
      runtime.stop();
      own?.disconnect();
    },
  };
}
