/**
 * The ingest service: `tsx services/ingest/src/main.ts [--check-config]`.
 *
 * Embedded (no TOKENMETER_KAFKA_BROKERS): POST /v1/events → batching writer → store.
 * Distributed: POST /v1/events → Kafka (broker-acked), and a consumer-group
 * member reads the topic into the store with an exactly-once effect
 * (docs/exactly-once.md). Either way /healthz, /readyz and /metrics.
 * SIGTERM: stop taking requests, finish the range in progress, commit, leave
 * the group, flush, close.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createStore, migrate, type Store } from "@tokenmeter/clickhouse";
import { PriceBook } from "@tokenmeter/pricing";
import { Hono } from "hono";
import { pino } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { type BatchWriter, createBatchWriter } from "./batcher.js";
import { batchPolicyFromConfig, loadIngestConfig } from "./config.js";
import { FaultyStore } from "./fault-store.js";
import { createIngestRoutes } from "./http.js";
import { createKafka, parseBrokers } from "./kafka.js";
import { faultsEnabled, loadKafkaIngestConfig } from "./kafka-config.js";
import { type KafkaIngest, startKafkaIngest } from "./kafka-service.js";
import { KafkaEventSink } from "./kafka-sink.js";
import type { EventSink } from "./sink.js";

// 1. Configuration, every problem at once.
const base = loadIngestConfig(process.env);
const kafkaCfg = loadKafkaIngestConfig(process.env);
const problems = [...(base.ok ? [] : base.errors), ...(kafkaCfg.ok ? [] : kafkaCfg.errors)];
if (!base.ok || !kafkaCfg.ok) {
  process.stderr.write(`invalid configuration:\n  ${problems.join("\n  ")}\n`);
  process.exit(2);
}
if (process.argv.includes("--check-config")) {
  process.stdout.write("configuration ok\n");
  process.exit(0);
}
const config = base.config;
const kc = kafkaCfg.config;
const logger = pino({ level: config.TOKENMETER_LOG_LEVEL, base: { service: "ingest" } });
const registry = new Registry();
collectDefaultMetrics({ register: registry });

// 2. Storage and schema; the fault wrapper exists for the fault-injection tests only.
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

// 3. Transport: Kafka when brokers are configured, else the batching writer directly.
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

// 4. HTTP: ingest routes, health, readiness, metrics.
const auth = { jwtSecret: config.TOKENMETER_JWT_SECRET, apiKeyHashes: parseApiKeyHashes(config.TOKENMETER_API_KEYS) };
let stopping = false;
const app = new Hono();
app.get("/healthz", (c) => c.json({ status: "ok" }));
app.get("/readyz", (c) => {
  const ready = !stopping && (kafkaIngest ? kafkaIngest.ready() : true);
  return c.json(
    { status: ready ? "ready" : "not_ready", kafka: kafkaIngest ? { members: kafkaIngest.members() } : null },
    ready ? 200 : 503,
  );
});
app.get("/metrics", async (c) => c.text(await registry.metrics(), 200, { "Content-Type": registry.contentType }));
app.route("/", createIngestRoutes({ sink, auth, logger, registry }));
const server = serve({ fetch: app.fetch, port: config.TOKENMETER_INGEST_PORT, hostname: config.TOKENMETER_HOST });
await new Promise<void>((resolve, reject) => {
  server.once("listening", resolve);
  server.once("error", reject);
});
const { port } = server.address() as AddressInfo;
logger.info({ op: "ready", port, kafka: kafkaIngest !== null, pid: process.pid }, "ingest ready");

// 5. Test-only: SIGUSR2 toggles a second consumer member (join, then leave: two rebalances).
if (kafkaIngest && kc.TOKENMETER_FAULT_EXTRA_MEMBER_SIGNAL) {
  const ki = kafkaIngest;
  let busy = false;
  process.on("SIGUSR2", () => {
    if (busy) return;
    busy = true;
    const change = ki.members() > 1 ? ki.removeMember() : ki.addMember();
    change
      .then(() => logger.info({ op: "members", members: ki.members() }, "consumer members changed"))
      .catch((err) => logger.error({ op: "members", err }, "member change failed"))
      .finally(() => {
        busy = false;
      });
  });
}

// 6. Graceful shutdown.
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ op: "shutdown", signal }, "stopping");
  const hardStop = setTimeout(() => {
    logger.error({ op: "shutdown" }, "shutdown took over 60 s; exiting");
    process.exit(1);
  }, 60_000);
  hardStop.unref();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await kafkaIngest?.stop();
  await closeSink();
  await writer?.close();
  await store.close();
  logger.info({ op: "shutdown" }, "stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));

/** TOKENMETER_API_KEYS: "sha256hex:org_id" pairs separated by commas (validated by config.ts). */
function parseApiKeyHashes(list: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of list?.split(",") ?? []) {
    const [hash, org] = pair.split(":");
    if (hash && org) out[hash] = org;
  }
  return out;
}
