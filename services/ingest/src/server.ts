import { createStore, migrate, type Store, storeConfigFromEnv } from "@tokenmeter/clickhouse";
import { listen, parseApiKeys } from "@tokenmeter/http";
import { connectPricingUpdates, PriceBook } from "@tokenmeter/pricing";
import { Hono } from "hono";
import type { Logger } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { IngestConfig } from "./config.js";
import { FaultyStore } from "./fault-store.js";
import { faultsEnabled, type KafkaIngestConfig } from "./kafka/config.js";
import type { KafkaIngest } from "./kafka/members.js";
import { createIngestService } from "./service.js";

export interface IngestServer {
  port: number;
  /** Consumer members in this process (null in embedded mode). */
  kafka: KafkaIngest | null;
  ready(): boolean;
  /** Stops taking requests, finishes the ranges in progress (insert + commit), leaves the group, flushes, closes. */
  stop(): Promise<void>;
}

/**
 * The standalone ingest process's server: config → deps (store, price book,
 * "pricing updated" channel) → createIngestService → serve it with /healthz,
 * /readyz and /metrics. Embedded (no TOKENMETER_KAFKA_BROKERS): POST
 * /v1/events → batching writer → store. Distributed: POST /v1/events → Kafka
 * (broker-acked), and a consumer-group member reads the topic into the store
 * with an exactly-once effect (docs/exactly-once.md).
 */
export async function startIngestServer(config: IngestConfig, kc: KafkaIngestConfig, logger: Logger): Promise<IngestServer> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  // 1. Storage and schema; the fault wrapper exists for the fault-injection tests only.
  let store: Store = await createStore(storeConfigFromEnv(config));
  await migrate(store);
  if (faultsEnabled(kc)) {
    logger.warn({ op: "faults", faults: kc }, "TEST-ONLY FAULT INJECTION IS ON: inserts will fail on purpose");
    store = new FaultyStore(store, {
      failRate: kc.TOKENMETER_FAULT_INSERT_FAIL_RATE,
      timeoutRate: kc.TOKENMETER_FAULT_INSERT_TIMEOUT_RATE,
      maxDelayMs: kc.TOKENMETER_FAULT_INSERT_DELAY_MS,
      refuseMarker: kc.TOKENMETER_FAULT_INSERT_REFUSE_MARKER,
    });
  }
  // 2. Prices, and the channel that says when they changed.
  const prices = await PriceBook.load(store);
  const pricing = connectPricingUpdates(config, logger);

  // 3. The service.
  const service = await createIngestService({
    config: { ...config, ...kc },
    store,
    prices,
    updates: pricing.updates,
    auth: { jwtSecret: config.TOKENMETER_JWT_SECRET, apiKeyHashes: parseApiKeys(config.TOKENMETER_API_KEYS) },
    logger,
    registry,
  });

  // 4. HTTP: the service's routes plus health, readiness, metrics.
  let stopping = false;
  const ready = () => !stopping && service.ready();
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) =>
    c.json(
      { status: ready() ? "ready" : "not_ready", kafka: service.kafka ? { members: service.kafka.members() } : null },
      ready() ? 200 : 503,
    ),
  );
  app.get("/metrics", async (c) => c.text(await registry.metrics(), 200, { "Content-Type": registry.contentType }));
  app.route("/", service.routes);
  const server = await listen(app.fetch, { port: config.TOKENMETER_INGEST_PORT, host: config.TOKENMETER_HOST });

  return {
    port: server.port,
    kafka: service.kafka,
    ready,
    async stop() {
      if (stopping) return;
      stopping = true;
      await server.close();
      await service.stop();
      pricing.close();
      await store.close();
    },
  };
}
