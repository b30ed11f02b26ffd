// The distributed pricing worker (`tsx services/pricing-refresh/src/main.ts`):
// the BullMQ repeatable refresh and re-pricing jobs, with /metrics and /healthz.
// The all-in-one process does not use this file; it calls startPricingRefresh().
import { createServer } from "node:http";
import { createStore, storeConfigFromEnv } from "@tokenmeter/clickhouse";
import { createOutageLog } from "@tokenmeter/core";
import { pricingChannel, RedisPricingUpdates } from "@tokenmeter/pricing";
import { Redis } from "ioredis";
import { pino } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { loadConfig, PricingWorkerConfig, readEnv } from "./config.js";
import { startPricingRefresh } from "./start.js";

// 1. config: every problem at once; --check-config validates and exits
const loaded = loadConfig(PricingWorkerConfig, readEnv());
if (!loaded.ok) {
  for (const e of loaded.errors) process.stderr.write(`pricing-refresh: ${e}\n`);
  process.exit(2);
}
const config = loaded.config;
if (!config.TOKENMETER_REDIS_URL) {
  process.stderr.write(
    "pricing-refresh: TOKENMETER_REDIS_URL is required for the distributed worker (the embedded default runs the job in-process)\n",
  );
  process.exit(2);
}
if (process.argv.includes("--check-config")) {
  process.stdout.write("config ok\n");
  process.exit(0);
}

// 2. clients, built once and passed down
const logger = pino({ level: config.TOKENMETER_LOG_LEVEL, base: { service: "pricing-refresh" } });
const registry = new Registry();
collectDefaultMetrics({ register: registry });
const store = await createStore(storeConfigFromEnv(config));
// BullMQ blocks on its connection, so it must never give up a command (maxRetriesPerRequest: null).
const bullConnection = new Redis(config.TOKENMETER_REDIS_URL, { maxRetriesPerRequest: null });
const publisher = new Redis(config.TOKENMETER_REDIS_URL);
// The BullMQ connection's outages are logged by the worker (job.ts); the publisher's here, one line each.
createOutageLog(logger, "redis (pricing publisher)").watch(publisher);
const updates = new RedisPricingUpdates({ redis: publisher, channel: pricingChannel(config.TOKENMETER_REDIS_PREFIX), logger });

// 3. the job
const pricing = await startPricingRefresh({ store, config, updates, logger, registry, bullConnection });

// 4. metrics, liveness, readiness (storage and the queue's Redis both reachable)
const server = createServer(async (req, res) => {
  if (req.url === "/metrics") {
    res.writeHead(200, { "content-type": registry.contentType }).end(await registry.metrics());
  } else if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
  } else if (req.url === "/readyz") {
    const checks: Record<string, string> = {};
    await Promise.all([
      store
        .query("SELECT 1 AS ok")
        .then(
          () => "ok",
          (err: Error) => `failed: ${err.message}`,
        )
        .then((v) => (checks.store = v)),
      bullConnection
        .ping()
        .then(
          () => "ok",
          (err: Error) => `failed: ${err.message}`,
        )
        .then((v) => (checks.redis = v)),
    ]);
    const ok = Object.values(checks).every((v) => v === "ok");
    res
      .writeHead(ok ? 200 : 503, { "content-type": "application/json" })
      .end(JSON.stringify({ status: ok ? "ok" : "unavailable", checks }));
  } else {
    res.writeHead(404).end();
  }
});
server.listen(config.TOKENMETER_METRICS_PORT, () =>
  logger.info({ op: "start", port: config.TOKENMETER_METRICS_PORT, queue: config.TOKENMETER_PRICING_QUEUE }, "pricing worker up"),
);

// 5. graceful stop: finish the running job, then close everything
let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    logger.info({ op: "stop", signal }, "stopping");
    server.close();
    await pricing.close();
    bullConnection.disconnect();
    publisher.disconnect();
    await store.close();
    process.exit(0);
  });
}
