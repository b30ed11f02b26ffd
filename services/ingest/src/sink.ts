import type { UsageEvent } from "@tokenmeter/core";

/** What one write did: rows stored now, and rows dropped as already stored or repeated. */
export interface WriteResult {
  accepted: number;
  duplicates: number;
}

/**
 * Where HTTP ingest hands validated events. Embedded mode: the batching
 * writer. Distributed mode: a Kafka producer (broker-acked).
 */
export interface EventSink {
  /** Resolves only once every event is durable (inserted, or broker-acked for Kafka). */
  write(events: UsageEvent[], source?: string): Promise<WriteResult>;
}
