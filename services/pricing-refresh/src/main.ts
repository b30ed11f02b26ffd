// The standalone worker (`tsx services/pricing-refresh/src/main.ts`, k8s:
// deploy/k8s/base/pricing-refresh.yaml): config → deps → createWorker →
// serve /healthz, /readyz, /metrics → stop on SIGTERM.
import { createServer } from "node:http";
import { createStore, storeConfigFromEnv } from "@tokenmeter/clickhouse";
import { loadProcessConfig } from "@tokenmeter/config";
import { stopOnSignal } from "@tokenmeter/http";
import { connectPricingUpdates } from "@tokenmeter/pricing";
import { Redis } from "ioredis";
import { pino } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { PricingWorkerConfig, readEnv } from "./config.js";
import { createWorker } from "./worker.js";

// 1. config: every problem at once; --check-config validates and exits
const loaded = loadProcessConfig(PricingWorkerConfig, readEnv());
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
  // A misspelt setting is silently not applied: the check fails on it.
  for (const u of loaded.unknown) process.stderr.write(`pricing-refresh: ${u}\n`);
  if (loaded.unknown.length > 0) process.exit(2);
  process.stdout.write("config ok\n");
  process.exit(0);
}

// 2. deps, built once and passed down
const logger = pino({ level: config.TOKENMETER_LOG_LEVEL, base: { service: "pricing-refresh" } });
for (const u of loaded.unknown) logger.warn({ op: "config" }, u);
const registry = new Registry();
collectDefaultMetrics({ register: registry });
const store = await createStore(storeConfigFromEnv(config));
// BullMQ blocks on its connection, so it must never give up a command (maxRetriesPerRequest: null).
const bullConnection = new Redis(config.TOKENMETER_REDIS_URL, { maxRetriesPerRequest: null });
const pricing = connectPricingUpdates(config, logger);

// 3. the worker, whole
const worker = await createWorker({ store, config, updates: pricing.updates, logger, registry, bullConnection });

// 4. metrics, liveness, readiness (storage and the queue's Redis both reachable)
const server = createServer(async (req, res) => {
  if (req.url === "/metrics") {
    res.writeHead(200, { "content-type": registry.contentType }).end(await registry.metrics());
  } else if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
  } else if (req.url === "/readyz") {
    const checks: Record<string, string> = {};
    const probe = (name: string, p: Promise<unknown>) =>
      p.then(
        () => (checks[name] = "ok"),
        (err: Error) => (checks[name] = `failed: ${err.message}`),
      );
    await Promise.all([probe("store", store.query("SELECT 1 AS ok")), probe("redis", bullConnection.ping())]);
    const ok = Object.values(checks).every((v) => v === "ok");
    res
      .writeHead(ok ? 200 : 503, { "content-type": "application/json" })
      .end(JSON.stringify({ status: ok ? "ok" : "unavailable", checks }));
  } else {
    res.writeHead(404).end();
  }
});
server.listen(config.TOKENMETER_METRICS_PORT, config.TOKENMETER_HOST, () =>
  logger.info({ op: "start", port: config.TOKENMETER_METRICS_PORT, queue: config.TOKENMETER_PRICING_QUEUE, pid: process.pid }, "worker up"),
);

// 5. graceful stop: finish the running job, then close everything
stopOnSignal(
  async () => {
    server.close();
    await worker.close();
    bullConnection.disconnect();
    pricing.close();
    await store.close();
  },
  { logger, hardStopMs: 55_000 },
);
