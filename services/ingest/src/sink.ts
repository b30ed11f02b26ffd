import type { UsageEvent } from "@tokenmeter/core";
import type { RefusedRow } from "./dedup/bisect.js";

/**
 * What one write did: rows stored now, rows dropped as already stored or
 * repeated, and (only when there are some) rows the engine refused, by index
 * in the write, with its reason: the rest of the write is stored regardless.
 */
export interface WriteResult {
  accepted: number;
  duplicates: number;
  refused?: RefusedRow[];
}

/**
 * Where HTTP ingest hands validated events. Embedded mode: the batching
 * writer. Distributed mode: a Kafka producer (broker-acked).
 */
export interface EventSink {
  /** Resolves only once every event is durable (inserted, or broker-acked for Kafka). */
  write(events: UsageEvent[], source?: string): Promise<WriteResult>;
}
