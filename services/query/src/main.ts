/**
 * The standalone query service (k8s: deploy/k8s/base/query.yaml):
 * config → deps → createQueryService → serve → stop on SIGTERM.
 *
 *   tsx services/query/src/main.ts [--check-config]
 */
import { createStore, storeConfigFromEnv, syncTagRollupKeys } from "@tokenmeter/clickhouse";
import { listen, parseApiKeys, stopOnSignal } from "@tokenmeter/http";
import { pino } from "pino";
import { Registry } from "prom-client";
import { createResultCache } from "./cache.js";
import { loadQueryConfig } from "./config.js";
import { createQueryService } from "./service.js";

// 1. Config, every problem at once; --check-config validates and exits.
const result = loadQueryConfig(process.env);
if (!result.ok) {
  process.stderr.write(`invalid configuration:\n  ${result.errors.join("\n  ")}\n`);
  process.exit(2);
}
if (process.argv.includes("--check-config")) {
  // A misspelt setting is silently not applied: the check fails on it.
  if (result.unknown.length > 0) {
    process.stderr.write(`unknown settings:\n  ${result.unknown.join("\n  ")}\n`);
    process.exit(2);
  }
  process.stdout.write("configuration ok\n");
  process.exit(0);
}
const config = result.config;
const logger = pino({ level: config.TOKENMETER_LOG_LEVEL, base: { service: "query" } });
for (const u of result.unknown) logger.warn({ op: "config" }, u);

// 2. Deps: the store (schema is the migrate job's) and the result cache.
const store = await createStore(storeConfigFromEnv(config));
// Promoted tag keys: the tag rollup made to hold exactly the configured keys (idempotent; a no-op when unchanged).
await syncTagRollupKeys(store, config.TOKENMETER_ROLLUP_TAG_KEYS, { logger });
const cache = await createResultCache(config, logger);

// 3. The service, whole.
const service = createQueryService({
  store,
  cache,
  auth: { jwtSecret: config.TOKENMETER_JWT_SECRET, apiKeyHashes: parseApiKeys(config.TOKENMETER_API_KEYS) },
  logger,
  registry: new Registry(),
  // Budgets' check refresh and shared reservations (Redis when configured), the webhook policy.
  config,
});

// 4. Serve.
const server = await listen(service.app.fetch, { port: config.TOKENMETER_PORT, host: config.TOKENMETER_HOST });
logger.info({ op: "start", port: server.port, host: config.TOKENMETER_HOST, pid: process.pid }, "query service listening");

// 5. Stop: close the server (in-flight requests finish), then the cache and the store.
stopOnSignal(
  async () => {
    await server.close();
    await service.close();
    await store.close();
  },
  { logger, hardStopMs: 25_000 },
);
