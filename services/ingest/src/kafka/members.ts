import type { Store } from "@tokenmeter/clickhouse";
import type { Pricer } from "@tokenmeter/core";
import type { Kafka, Producer } from "kafkajs";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { ensureTopics } from "./client.js";
import { createKafkaConsumer, type KafkaConsumer } from "./consumer.js";
import { createKafkaMetrics } from "./metrics.js";
import { createStoredLookup } from "./plan-insert.js";
import { createStagePool, type StagePool } from "./stage-pool.js";
import { priceFeedOf } from "./stage-slice.js";

export interface KafkaIngestSettings {
  topic: string;
  dlqTopic: string;
  groupId: string;
  /** Partitions for topics created here; 0 = do not create topics. */
  createPartitions: number;
  concurrency: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Messages per insert, across a member's partitions. */
  maxBatchRows: number;
  /** Message bytes per insert. */
  maxBatchBytes: number;
  /** A consumed message waits at most this long to be taken into an insert. */
  maxDelayMs: number;
  maxBytesPerPartition: number;
  maxInFlightBytes: number;
  maxEventBytes: number;
  /** Stored-copy lookup window each side of a range's event times (TOKENMETER_DEDUP_WINDOW_MS); default 1 day. */
  dedupWindowMs?: number;
  /** Worker threads staging fetched messages, shared by the members (TOKENMETER_KAFKA_STAGE_WORKERS); 0 = on the main thread. */
  stageWorkers?: number;
}

/** Defaults matching kafka-config.ts, for callers that build settings by hand (tests, bench). */
export const DEFAULT_KAFKA_INGEST: Omit<KafkaIngestSettings, "topic" | "dlqTopic" | "groupId"> = {
  createPartitions: 6,
  concurrency: 2,
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  maxBatchRows: 200_000,
  maxBatchBytes: 128 * 1024 * 1024,
  maxDelayMs: 500,
  maxBytesPerPartition: 4 * 1024 * 1024,
  maxInFlightBytes: 320 * 1024 * 1024,
  maxEventBytes: 256 * 1024,
  stageWorkers: 0,
};

export interface KafkaIngestOptions {
  kafka: Kafka;
  store: Store;
  pricer: Pricer;
  logger: Logger;
  registry?: Registry;
  settings: KafkaIngestSettings;
  retry?: { retryMinMs: number; retryMaxMs: number };
  now?: () => number;
}

/** The Kafka side of the ingest service: consumer member(s) plus the DLQ producer. */
export interface KafkaIngest {
  /** Adds a consumer member in this process (joins the group: a rebalance). */
  addMember(): Promise<void>;
  /** Stops the newest member (finishes its range, leaves the group: a rebalance). */
  removeMember(): Promise<void>;
  members(): number;
  ready(): boolean;
  /** SIGTERM path: every member finishes its range, commits, leaves; then the producer disconnects. */
  stop(): Promise<void>;
}

/**
 * Creates the topics if asked, connects the DLQ producer and starts one
 * consumer member. Partitions are the unit of scale: more members (here or in
 * other processes) share the topic's partitions.
 */
export async function startKafkaIngest(opts: KafkaIngestOptions): Promise<KafkaIngest> {
  const s = opts.settings;
  if (s.createPartitions > 0) {
    const admin = opts.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [
        { topic: s.topic, numPartitions: s.createPartitions },
        { topic: s.dlqTopic, numPartitions: 1 },
      ]);
    } finally {
      await admin.disconnect();
    }
  }
  // Idempotent, acks=all: a DLQ record is acked before its range's offsets are committed.
  const producer: Producer = opts.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const metrics = createKafkaMetrics(opts.registry);
  const lookup = createStoredLookup(opts.store, s.dedupWindowMs);
  const members: KafkaConsumer[] = [];
  const stagePool = startStagePool(opts);

  async function addMember(): Promise<void> {
    const member = createKafkaConsumer({
      kafka: opts.kafka,
      store: opts.store,
      pricer: opts.pricer,
      logger: opts.logger.child({ member: members.length }),
      metrics,
      producer,
      lookup,
      topic: s.topic,
      dlqTopic: s.dlqTopic,
      groupId: s.groupId,
      maxBatchRows: s.maxBatchRows,
      maxBatchBytes: s.maxBatchBytes,
      maxDelayMs: s.maxDelayMs,
      maxInFlightBytes: s.maxInFlightBytes,
      maxEventBytes: s.maxEventBytes,
      maxBytesPerPartition: s.maxBytesPerPartition,
      concurrency: s.concurrency,
      sessionTimeoutMs: s.sessionTimeoutMs,
      heartbeatIntervalMs: s.heartbeatIntervalMs,
      ...(opts.retry ? { retry: opts.retry } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      ...(stagePool ? { stagePool } : {}),
    });
    members.push(member);
    await member.start();
  }

  await addMember();
  return {
    addMember,
    async removeMember() {
      const m = members.pop();
      if (m) await m.stop();
    },
    members: () => members.length,
    ready: () => members.length > 0 && members.every((m) => m.ready()),
    async stop() {
      while (members.length > 0) await members.pop()!.stop();
      await stagePool?.close();
      await producer.disconnect();
    },
  };
}

/** The staging workers, when asked for and the pricer can be copied into them (else staging stays on the main thread). */
function startStagePool(opts: KafkaIngestOptions): StagePool | null {
  const size = opts.settings.stageWorkers ?? 0;
  if (size === 0) return null;
  const feed = priceFeedOf(opts.pricer);
  if (!feed) {
    opts.logger.warn({ op: "stage_pool", workers: size }, "pricer cannot be copied into worker threads; staging on the main thread");
    return null;
  }
  opts.logger.info({ op: "stage_pool", workers: size }, "staging on worker threads");
  return createStagePool({ size, feed, logger: opts.logger });
}
