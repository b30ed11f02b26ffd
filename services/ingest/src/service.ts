import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createStore, migrate, type Store } from "@tokenmeter/clickhouse";
import { PriceBook } from "@tokenmeter/pricing";
import { Hono } from "hono";
import type { Logger } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { type BatchWriter, createBatchWriter } from "./batcher.js";
import { batchPolicyFromConfig, type IngestConfig } from "./config.js";
import { FaultyStore } from "./fault-store.js";
import { createIngestRoutes } from "./http.js";
import { createKafka, parseBrokers } from "./kafka.js";
import { faultsEnabled, type KafkaIngestConfig } from "./kafka-config.js";
import { type KafkaIngest, startKafkaIngest } from "./kafka-service.js";
import { KafkaEventSink } from "./kafka-sink.js";
import type { EventSink } from "./sink.js";

export interface IngestService {
  port: number;
  /** Consumer members in this process (0 in embedded mode). */
  kafka: KafkaIngest | null;
  ready(): boolean;
  /** Stops taking requests, finishes the ranges in progress (insert + commit), leaves the group, flushes, closes. */
  stop(): Promise<void>;
}

/**
 * The ingest service. Embedded (no TOKENMETER_KAFKA_BROKERS): POST /v1/events
 * → batching writer → store. Distributed: POST /v1/events → Kafka
 * (broker-acked), and a consumer-group member reads the topic into the store
 * with an exactly-once effect (docs/exactly-once.md). Either way /healthz,
 * /readyz and /metrics.
 */
export async function startIngestService(config: IngestConfig, kc: KafkaIngestConfig, logger: Logger): Promise<IngestService> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  // 1. Storage and schema; the fault wrapper exists for the fault-injection tests only.
  let store: Store = await createStore({
    clickhouseUrl: config.TOKENMETER_CLICKHOUSE_URL,
    dataDir: config.TOKENMETER_DATA_DIR,
    database: config.TOKENMETER_CLICKHOUSE_DATABASE,
    username: config.TOKENMETER_CLICKHOUSE_USER,
    password: config.TOKENMETER_CLICKHOUSE_PASSWORD,
  });
  await migrate(store);
  if (faultsEnabled(kc)) {
    logger.warn({ op: "faults", faults: kc }, "TEST-ONLY FAULT INJECTION IS ON: inserts will fail on purpose");
    store = new FaultyStore(store, {
      failRate: kc.TOKENMETER_FAULT_INSERT_FAIL_RATE,
      timeoutRate: kc.TOKENMETER_FAULT_INSERT_TIMEOUT_RATE,
      maxDelayMs: kc.TOKENMETER_FAULT_INSERT_DELAY_MS,
    });
  }
  const pricer = await PriceBook.load(store);

  // 2. Transport: Kafka when brokers are configured, else the batching writer directly.
  let kafkaIngest: KafkaIngest | null = null;
  let writer: BatchWriter | null = null;
  let sink: EventSink;
  let closeSink = async () => {};
  if (config.TOKENMETER_KAFKA_BROKERS) {
    const kafka = createKafka({ brokers: parseBrokers(config.TOKENMETER_KAFKA_BROKERS), clientId: kc.TOKENMETER_KAFKA_CLIENT_ID, logger });
    kafkaIngest = await startKafkaIngest({
      kafka,
      store,
      pricer,
      logger,
      registry,
      settings: {
        topic: config.TOKENMETER_KAFKA_TOPIC,
        dlqTopic: config.TOKENMETER_KAFKA_DLQ_TOPIC,
        groupId: config.TOKENMETER_KAFKA_GROUP_ID,
        createPartitions: kc.TOKENMETER_KAFKA_CREATE_TOPICS ? kc.TOKENMETER_KAFKA_PARTITIONS : 0,
        concurrency: kc.TOKENMETER_KAFKA_CONCURRENCY,
        sessionTimeoutMs: kc.TOKENMETER_KAFKA_SESSION_TIMEOUT_MS,
        heartbeatIntervalMs: kc.TOKENMETER_KAFKA_HEARTBEAT_INTERVAL_MS,
        maxBatchRows: kc.TOKENMETER_KAFKA_MAX_BATCH_ROWS,
        maxBytesPerPartition: kc.TOKENMETER_KAFKA_MAX_BYTES_PER_PARTITION,
        maxInFlightBytes: kc.TOKENMETER_KAFKA_MAX_IN_FLIGHT_BYTES,
        maxEventBytes: kc.TOKENMETER_KAFKA_MAX_EVENT_BYTES,
      },
    });
    // Idempotent + acks=all: HTTP answers 200 only after the broker has the events.
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    sink = new KafkaEventSink(producer, config.TOKENMETER_KAFKA_TOPIC);
    closeSink = () => producer.disconnect();
  } else {
    writer = createBatchWriter({ store, logger, registry, pricer, policy: batchPolicyFromConfig(config) });
    sink = writer;
  }

  // 3. HTTP: ingest routes, health, readiness, metrics.
  const auth = { jwtSecret: config.TOKENMETER_JWT_SECRET, apiKeyHashes: parseApiKeyHashes(config.TOKENMETER_API_KEYS) };
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
      await kafkaIngest?.stop();
      await closeSink();
      await writer?.close();
      await store.close();
    },
  };
}

/** TOKENMETER_API_KEYS: "sha256hex:org_id" pairs separated by commas (validated by config.ts). */
function parseApiKeyHashes(list: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of list?.split(",") ?? []) {
    const [hash, org] = pair.split(":");
    if (hash && org) out[hash] = org;
  }
  return out;
}
