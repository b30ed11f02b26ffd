import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createStore, migrate, type Store, storeConfigFromEnv } from "@tokenmeter/clickhouse";
import { parseApiKeys } from "@tokenmeter/http";
import { PriceBook } from "@tokenmeter/pricing";
import { Hono } from "hono";
import type { Logger } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { IngestConfig } from "./config.js";
import { FaultyStore } from "./fault-store.js";
import { createIngestRoutes } from "./http.js";
import { faultsEnabled, type KafkaIngestConfig } from "./kafka-config.js";
import type { KafkaIngest } from "./kafka-service.js";
import { startIngestTransport } from "./transport.js";

export interface IngestService {
  port: number;
  /** Consumer members in this process (0 in embedded mode). */
  kafka: KafkaIngest | null;
  ready(): boolean;
  /** Stops taking requests, finishes the ranges in progress (insert + commit), leaves the group, flushes, closes. */
  stop(): Promise<void>;
}

/**
 * The ingest service. Embedded (no TOKENMETER_KAFKA_BROKERS): POST /v1/events (and /v1/traces, OTLP)
 * → batching writer → store. Distributed: POST /v1/events → Kafka
 * (broker-acked), and a consumer-group member reads the topic into the store
 * with an exactly-once effect (docs/exactly-once.md). Either way /healthz,
 * /readyz and /metrics.
 */
export async function startIngestService(config: IngestConfig, kc: KafkaIngestConfig, logger: Logger): Promise<IngestService> {
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
  const pricer = await PriceBook.load(store);

  // 2. Transport: Kafka when brokers are configured, else the batching writer directly.
  const transport = await startIngestTransport({ config: { ...config, ...kc }, store, pricer, logger, registry });
  const kafkaIngest = transport.kafka;
  const sink = transport.sink;

  // 3. HTTP: ingest routes, health, readiness, metrics.
  const auth = { jwtSecret: config.TOKENMETER_JWT_SECRET, apiKeyHashes: parseApiKeys(config.TOKENMETER_API_KEYS) };
  let stopping = false;
  const ready = () => !stopping && (kafkaIngest ? kafkaIngest.ready() : true);
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) =>
    c.json(
      { status: ready() ? "ready" : "not_ready", kafka: kafkaIngest ? { members: kafkaIngest.members() } : null },
      ready() ? 200 : 503,
    ),
  );
  app.get("/metrics", async (c) => c.text(await registry.metrics(), 200, { "Content-Type": registry.contentType }));
  app.route("/", createIngestRoutes({ sink, auth, logger, registry }));
  const server = serve({ fetch: app.fetch, port: config.TOKENMETER_INGEST_PORT, hostname: config.TOKENMETER_HOST });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;

  return {
    port,
    kafka: kafkaIngest,
    ready,
    async stop() {
      if (stopping) return;
      stopping = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await transport.stop();
      await store.close();
    },
  };
}
