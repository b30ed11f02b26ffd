import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { Store } from "@tokenmeter/clickhouse";
import type { Pricer } from "@tokenmeter/core";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { batchPolicyFromConfig, type IngestConfig } from "./config.js";
import { createKafka, parseBrokers } from "./kafka/client.js";
import type { KafkaIngestConfig } from "./kafka/config.js";
import { KafkaEventSink } from "./kafka/event-sink.js";
import { type KafkaIngest, startKafkaIngest } from "./kafka/members.js";
import type { EventSink } from "./sink.js";
import { type BatchWriter, createBatchWriter } from "./writer/batch-writer.js";
import { fileFlushJournal } from "./writer/flush-journal.js";

/** The settings the transport reads; the ingest service and the all-in-one both carry them. */
export type TransportConfig = Pick<
  IngestConfig,
  | "TOKENMETER_DATA_DIR"
  | "TOKENMETER_KAFKA_BROKERS"
  | "TOKENMETER_KAFKA_TOPIC"
  | "TOKENMETER_KAFKA_DLQ_TOPIC"
  | "TOKENMETER_KAFKA_GROUP_ID"
  | "TOKENMETER_BATCH_MAX_ROWS"
  | "TOKENMETER_BATCH_MAX_BYTES"
  | "TOKENMETER_BATCH_MAX_DELAY_MS"
  | "TOKENMETER_BATCH_MAX_BUFFERED_BYTES"
  | "TOKENMETER_BATCH_MAX_ATTEMPTS"
  | "TOKENMETER_DEDUP_WINDOW_MS"
> &
  Omit<KafkaIngestConfig, `TOKENMETER_FAULT_${string}`>;

export interface IngestTransport {
  /** Where HTTP ingest hands validated events. */
  sink: EventSink;
  /** The batching writer (embedded mode), or null when Kafka carries events. */
  writer: BatchWriter | null;
  /** The consumer members (Kafka mode), or null. */
  kafka: KafkaIngest | null;
  /** Finishes what is in flight (consumer ranges, writer buffer), then disconnects. */
  stop(): Promise<void>;
}

export interface IngestTransportOptions {
  config: TransportConfig;
  store: Store;
  pricer: Pricer;
  logger: Logger;
  registry?: Registry;
  now?: () => number;
}

/**
 * Chooses how accepted events reach the store. Kafka configured: HTTP produces
 * (idempotent, acks=all) and a consumer-group member drains the topic with an
 * exactly-once effect. Otherwise: the batching writer, with a flush journal in
 * the data dir so a flush cut off by a crash is redone at the next start.
 */
export async function startIngestTransport(opts: IngestTransportOptions): Promise<IngestTransport> {
  const { config: c, logger } = opts;
  if (c.TOKENMETER_KAFKA_BROKERS) {
    const kafka = createKafka({ brokers: parseBrokers(c.TOKENMETER_KAFKA_BROKERS), clientId: c.TOKENMETER_KAFKA_CLIENT_ID, logger });
    const kafkaIngest = await startKafkaIngest({
      kafka,
      store: opts.store,
      pricer: opts.pricer,
      logger,
      registry: opts.registry,
      now: opts.now,
      settings: {
        topic: c.TOKENMETER_KAFKA_TOPIC,
        dlqTopic: c.TOKENMETER_KAFKA_DLQ_TOPIC,
        groupId: c.TOKENMETER_KAFKA_GROUP_ID,
        createPartitions: c.TOKENMETER_KAFKA_CREATE_TOPICS ? c.TOKENMETER_KAFKA_PARTITIONS : 0,
        concurrency: c.TOKENMETER_KAFKA_CONCURRENCY,
        sessionTimeoutMs: c.TOKENMETER_KAFKA_SESSION_TIMEOUT_MS,
        heartbeatIntervalMs: c.TOKENMETER_KAFKA_HEARTBEAT_INTERVAL_MS,
        maxBatchRows: c.TOKENMETER_KAFKA_MAX_BATCH_ROWS,
        maxBatchBytes: c.TOKENMETER_KAFKA_MAX_BATCH_BYTES,
        maxDelayMs: c.TOKENMETER_KAFKA_MAX_DELAY_MS,
        maxBytesPerPartition: c.TOKENMETER_KAFKA_MAX_BYTES_PER_PARTITION,
        maxInFlightBytes: c.TOKENMETER_KAFKA_MAX_IN_FLIGHT_BYTES,
        maxEventBytes: c.TOKENMETER_KAFKA_MAX_EVENT_BYTES,
        dedupWindowMs: c.TOKENMETER_DEDUP_WINDOW_MS,
        stageWorkers: c.TOKENMETER_KAFKA_STAGE_WORKERS === "auto" ? availableParallelism() : c.TOKENMETER_KAFKA_STAGE_WORKERS,
      },
    });
    // Idempotent + acks=all: HTTP answers 200 only after the broker has the events.
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    return {
      sink: new KafkaEventSink(producer, c.TOKENMETER_KAFKA_TOPIC),
      writer: null,
      kafka: kafkaIngest,
      async stop() {
        await kafkaIngest.stop();
        await producer.disconnect();
      },
    };
  }
  const writer = createBatchWriter({
    store: opts.store,
    logger,
    registry: opts.registry,
    pricer: opts.pricer,
    policy: batchPolicyFromConfig(c),
    dedupWindowMs: c.TOKENMETER_DEDUP_WINDOW_MS,
    journal: await fileFlushJournal(join(c.TOKENMETER_DATA_DIR, "ingest-journal")),
    now: opts.now,
  });
  // 1. Before taking new events: redo any flush a killed process left half-done.
  const redone = await writer.recover();
  if (redone > 0) logger.warn({ op: "recover", flushes: redone }, "redid flushes interrupted by a crash");
  return { sink: writer, writer, kafka: null, stop: () => writer.close() };
}
