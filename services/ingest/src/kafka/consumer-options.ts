import type { Store } from "@tokenmeter/clickhouse";
import { type BatchPolicy, type Pricer, resolveBatchPolicy } from "@tokenmeter/core";
import type { ConsumerConfig, Kafka, Producer } from "kafkajs";
import type { Logger } from "pino";
import type { KafkaMetrics } from "./metrics.js";
import type { StoredLookup } from "./plan-insert.js";
import type { ReadRangesOptions } from "./range-reader.js";
import type { StagePool } from "./stage-pool.js";

export interface KafkaConsumerOptions {
  kafka: Kafka;
  store: Store;
  pricer: Pricer;
  logger: Logger;
  metrics: KafkaMetrics;
  /** Acks DLQ messages (acks=all); shared by the members of a process. */
  producer: Producer;
  /** Shared by the members of a process: concurrent stored-copy lookups run as one query. */
  lookup: StoredLookup;
  topic: string;
  dlqTopic: string;
  groupId: string;
  /** Messages per insert, across this member's partitions. */
  maxBatchRows: number;
  /** Message bytes per insert. */
  maxBatchBytes: number;
  /** A message waits at most this long to be taken into an insert (freshness; the real clock, not `now`). */
  maxDelayMs: number;
  /** Message bytes read but not yet stored (staged + being written) before fetching waits: the memory bound. */
  maxInFlightBytes: number;
  maxEventBytes: number;
  maxBytesPerPartition: number;
  concurrency: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Backoff of store and broker retries; the consumer retries until stored, stopped, or rebalanced. */
  retry?: { retryMinMs: number; retryMaxMs: number };
  /** Clock of validation (event_time bounds, DLQ timestamps); tests pin it. */
  now?: () => number;
  /** Worker threads that stage fetched messages (shared by a process's members); none = staged on the main thread. */
  stagePool?: StagePool;
}

export interface KafkaConsumer {
  start(): Promise<void>;
  /** Stores what it has read (insert + commit), then leaves the group. */
  stop(): Promise<void>;
  /** Joined the group and not crashed: /readyz. */
  ready(): boolean;
}

/**
 * Messages staged per turn of the event loop. A fetch brings ~6,000 messages
 * per partition, ~50 ms of parsing; staged in one go, every step of the batch
 * being written (intent commit, lookups, insert, offset commit) waits that
 * long for its completion to run, and the writer idles.
 */
export const STAGE_SLICE = 1_000;

/**
 * How long an idle fetch waits on the broker for data (kafkajs defaults to
 * 5 s; Kafka's Java client to 0.5 s). kafkajs heartbeats and notices a
 * rebalance only between fetches, and `disconnect()` waits for the fetch in
 * flight, so this wait was added to every SIGTERM (~4 s when idle) and to
 * every other member's reaction to a join or leave. 500 ms costs an idle
 * member two small requests a second; under load fetches return at once.
 */
export const FETCH_MAX_WAIT_MS = 500;

/** The batching policy of a member: a batch spans its partitions, bounded in rows, bytes and delay. */
export function batchPolicyOf(o: KafkaConsumerOptions): BatchPolicy {
  return resolveBatchPolicy({
    maxRows: o.maxBatchRows,
    maxBytes: o.maxBatchBytes,
    maxDelayMs: o.maxDelayMs,
    idleMs: 0,
    maxBufferedBytes: Math.max(o.maxInFlightBytes, o.maxBatchBytes),
  });
}

/** The kafkajs consumer settings of a member. */
export function consumerConfigOf(o: KafkaConsumerOptions): ConsumerConfig {
  return {
    groupId: o.groupId,
    sessionTimeout: o.sessionTimeoutMs,
    heartbeatInterval: o.heartbeatIntervalMs,
    maxBytesPerPartition: o.maxBytesPerPartition,
    maxBytes: Math.max(o.maxBytesPerPartition * o.concurrency, 10 * 1024 * 1024),
    maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
    retry: { retries: 10 },
  };
}

/** Throwaway readers (another member's ranges, refused rows' originals): bounded like a session. */
export function readerOptionsOf(o: KafkaConsumerOptions): ReadRangesOptions {
  return { groupPrefix: o.groupId, maxBytesPerPartition: o.maxBytesPerPartition, timeoutMs: Math.max(30_000, o.sessionTimeoutMs) };
}
