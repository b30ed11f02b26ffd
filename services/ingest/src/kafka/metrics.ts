import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * Prometheus metrics of the Kafka consumer. Get-or-create on the injected
 * registry, so several consumer members in one process share them.
 */
export function createKafkaMetrics(registry?: Registry) {
  const registers = registry ? [registry] : [];
  function get<T>(name: string, make: (name: string) => T): T {
    return (registry?.getSingleMetric(name) as T | undefined) ?? make(name);
  }
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    get(name, (n) => new Counter({ name: n, help, labelNames, registers }));
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    get(name, (n) => new Gauge({ name: n, help, labelNames, registers }));
  const histogram = (name: string, help: string, buckets: number[]) =>
    get(name, (n) => new Histogram({ name: n, help, buckets, registers }));

  const lastEventTime = gauge("tokenmeter_kafka_last_event_time_seconds", "Newest event_time stored from Kafka (unix seconds)");
  let newestSeconds = 0;
  return {
    consumed: counter("tokenmeter_kafka_messages_consumed_total", "Messages taken from the usage topic"),
    inserted: counter("tokenmeter_kafka_rows_inserted_total", "Rows inserted into llm_usage from Kafka"),
    rejected: counter("tokenmeter_kafka_dlq_messages_total", "Messages sent to the DLQ, by kind", ["kind"]),
    duplicates: counter("tokenmeter_kafka_duplicates_dropped_total", "Events dropped as repeats of an already stored event_id"),
    retries: counter("tokenmeter_kafka_store_retries_total", "Store calls retried, by operation", ["op"]),
    rebalances: counter("tokenmeter_kafka_rebalances_total", "Group joins of this process's members"),
    // The name predates batches of several ranges; kept so dashboards and alerts keep working.
    redone: counter("tokenmeter_kafka_ranges_redone_total", "Recorded batch plans re-attempted (after crash, failure or rebalance)"),
    foreignReads: counter(
      "tokenmeter_kafka_redo_ranges_read_total",
      "Ranges of a recorded plan read for partitions another member owns (a rebalance split the plan)",
    ),
    batchRows: histogram(
      "tokenmeter_kafka_batch_rows",
      "Rows per insert",
      [1, 10, 100, 1_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000],
    ),
    batchBytes: histogram(
      "tokenmeter_kafka_batch_bytes",
      "payload bytes per insert (llm_usage TSV lines)",
      [1e3, 1e4, 1e5, 1e6, 4e6, 16e6, 32e6, 64e6, 128e6],
    ),
    flushSeconds: histogram(
      "tokenmeter_kafka_flush_duration_seconds",
      "From batch taken to offsets committed (intent, DLQ, dedup check, insert, commit)",
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    ),
    lag: gauge("tokenmeter_kafka_consumer_lag", "Messages behind the partition's high watermark", ["topic", "partition"]),
    lastEventTime,
    /** Moves the newest-event gauge forward (never back) after a batch is stored. */
    observeEventTime(ms: number) {
      if (ms / 1000 <= newestSeconds) return;
      newestSeconds = ms / 1000;
      lastEventTime.set(newestSeconds);
    },
    inFlightBytes: gauge("tokenmeter_kafka_in_flight_bytes", "Message bytes read but not yet stored (staged + being written)"),
  };
}
export type KafkaMetrics = ReturnType<typeof createKafkaMetrics>;
