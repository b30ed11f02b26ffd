/**
 * The standalone query service (k8s: deploy/k8s/base/query.yaml). Reads the
 * config once, builds the store and the cache, serves the app; SIGTERM closes
 * the server, then the cache and the store.
 *
 *   tsx services/query/src/main.ts [--check-config]
 */
import { serve } from "@hono/node-server";
import { createStore, storeConfigFromEnv, syncTagRollupKeys } from "@tokenmeter/clickhouse";
import { parseApiKeys } from "@tokenmeter/http";
import { Redis } from "ioredis";
import { pino } from "pino";
import { Registry } from "prom-client";
import { createQueryApp } from "./app.js";
import { RedisReservations } from "./budgets/reservations.js";
import { createBudgetRuntime } from "./budgets/runtime.js";
import { MemoryResultCache, RedisResultCache, type ResultCache } from "./cache.js";
import { deliveryPolicy, loadQueryConfig } from "./config.js";

const result = loadQueryConfig(process.env);
if (!result.ok) {
  process.stderr.write(`invalid configuration:\n  ${result.errors.join("\n  ")}\n`);
  process.exit(2);
}
if (process.argv.includes("--check-config")) {
  process.stdout.write("configuration ok\n");
  process.exit(0);
}
const config = result.config;
const logger = pino({ level: config.TOKENMETER_LOG_LEVEL });

// 1. Store (a ClickHouse server when configured, else chDB) — schema is the migrate job's.
const store = await createStore(storeConfigFromEnv(config));

// 1b. Promoted tag keys: the tag rollup made to hold exactly the configured keys (idempotent; a no-op when unchanged).
await syncTagRollupKeys(store, config.TOKENMETER_ROLLUP_TAG_KEYS, { logger });

// 2. Cache: Redis when configured (the service starts even if Redis is down), else the LRU.
let cache: ResultCache;
if (config.TOKENMETER_REDIS_URL) {
  const redis = new RedisResultCache({ url: config.TOKENMETER_REDIS_URL, keyPrefix: config.TOKENMETER_REDIS_KEY_PREFIX, logger });
  if (!(await redis.ready())) logger.warn({ op: "start" }, "redis result cache not reachable yet; answering from the store");
  cache = redis;
} else {
  cache = new MemoryResultCache({ maxEntries: config.TOKENMETER_CACHE_MAX_ENTRIES });
}

// 3. Budgets: reservations shared through Redis across replicas when configured.
const reservationRedis = config.TOKENMETER_REDIS_URL ? new Redis(config.TOKENMETER_REDIS_URL, { maxRetriesPerRequest: 1 }) : undefined;
const budgets = createBudgetRuntime({
  store,
  logger,
  now: Date.now,
  refreshMs: config.TOKENMETER_BUDGET_REFRESH_MS,
  ...(reservationRedis ? { reservations: new RedisReservations(reservationRedis, `${config.TOKENMETER_REDIS_KEY_PREFIX}budgets`) } : {}),
});

// 4. Serve.
const app = createQueryApp({
  store,
  cache,
  auth: { jwtSecret: config.TOKENMETER_JWT_SECRET, apiKeyHashes: parseApiKeys(config.TOKENMETER_API_KEYS) },
  logger,
  registry: new Registry(),
  budgets,
  alertPolicy: deliveryPolicy(config),
});
const server = serve({ fetch: app.fetch, port: config.TOKENMETER_PORT, hostname: config.TOKENMETER_HOST }, (info) =>
  logger.info({ op: "start", port: info.port, host: config.TOKENMETER_HOST }, "query service listening"),
);

// 5. Stop cleanly.
let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  server.close(async () => {
    budgets.stop();
    reservationRedis?.disconnect();
    await cache.close();
    await store.close();
    process.exit(0);
  });
});
