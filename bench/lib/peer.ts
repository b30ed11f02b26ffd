import type { ChdbStore } from "@tokenmeter/clickhouse";
import { countRows } from "./chdb.js";

export interface PeerOptions {
  brokers: string;
  topic: string;
  /** Consumers inside the engine; ClickHouse caps it at the core count. */
  consumers: number;
  /** Rows per block the engine hands to the MV (one insert into llm_usage each). */
  maxBlockSize: number;
}

/**
 * ClickHouse's own Kafka table engine reading the event JSON as producers
 * send it, and a materialized view that turns each event into an llm_usage
 * row (the same table, whose own MVs feed the daily and hourly rollups). It
 * does the same normalization our writer does except zod validation and
 * pricing beyond "reported or unpriced": the peer is a lower bound on work.
 */
export function peerStatements(o: PeerOptions, group: string): string[] {
  return [
    `CREATE TABLE peer_queue
(
    event_id UUID, event_time String, org_id String, project_id String, user_id String, agent_id String,
    session_id String, turn_id String, message_id String, call_sequence Nullable(UInt32),
    provider String, model String, operation String,
    input_tokens UInt64, output_tokens UInt64, cached_input_tokens UInt64, cache_write_tokens UInt64, reasoning_tokens UInt64,
    cost_usd Nullable(Float64), duration_ms Nullable(UInt32), ttfb_ms Nullable(UInt32), proxy_overhead_ms Nullable(UInt32),
    status_code UInt16, error_code String, streaming Bool, tags Map(String, String)
)
ENGINE = Kafka
SETTINGS kafka_broker_list = '${o.brokers}', kafka_topic_list = '${o.topic}', kafka_group_name = '${group}',
    kafka_format = 'JSONEachRow', kafka_num_consumers = ${o.consumers}, kafka_max_block_size = ${o.maxBlockSize},
    kafka_thread_per_consumer = 1, kafka_skip_broken_messages = 1000, input_format_skip_unknown_fields = 1`,
    `CREATE MATERIALIZED VIEW peer_mv TO llm_usage AS
SELECT
    event_id, parseDateTime64BestEffort(event_time, 3, 'UTC') AS event_time, org_id, project_id, user_id, agent_id,
    session_id, turn_id, message_id, call_sequence, lower(provider) AS provider, model,
    if(operation = '', 'chat', operation) AS operation,
    input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens,
    ifNull(cost_usd, 0) AS cost_usd, if(cost_usd IS NULL, 'unpriced', 'reported') AS cost_source, '' AS pricing_version,
    duration_ms, ttfb_ms, proxy_overhead_ms, status_code, error_code, toUInt8(streaming) AS streaming, tags,
    concat('kafka:', _topic, ':', toString(_partition), ':', toString(_offset)) AS source
FROM peer_queue`,
  ];
}

export interface DrainResult {
  rows: number;
  /** From creating the view (consumers start) to all rows counted. */
  total_ms: number;
  /** From creating the view to the first rows visible (group join + first block). */
  first_rows_ms: number | null;
  timed_out: boolean;
}

/**
 * Starts the peer and polls llm_usage until `expected` rows are there or
 * `timeoutMs` passes, then detaches the engine so its consumers stop.
 */
export async function drainWithPeer(store: ChdbStore, o: PeerOptions, expected: number, timeoutMs: number): Promise<DrainResult> {
  const [queue, view] = peerStatements(o, `peer-${Date.now()}`);
  await store.command(queue!);
  const started = performance.now();
  await store.command(view!);
  let rows = 0;
  let firstRowsMs: number | null = null;
  while (performance.now() - started < timeoutMs) {
    rows = await countRows(store);
    if (rows > 0 && firstRowsMs === null) firstRowsMs = Math.round(performance.now() - started);
    if (rows >= expected) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const total = Math.round(performance.now() - started);
  await store.command("DROP VIEW IF EXISTS peer_mv");
  await store.command("DROP TABLE IF EXISTS peer_queue");
  return { rows, total_ms: total, first_rows_ms: firstRowsMs, timed_out: rows < expected };
}
