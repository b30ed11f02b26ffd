import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * The batching writer's Prometheus metrics. Registered on the injected
 * registry; without one they still count but are exported nowhere. A second
 * writer on the same registry reuses the first one's metrics instead of
 * failing on a duplicate name.
 */
export function createWriterMetrics(registry?: Registry) {
  const registers = registry ? [registry] : [];
  const get = <T>(name: string, make: () => T): T => (registry?.getSingleMetric(name) as T | undefined) ?? make();

  const rows = get(
    "tokenmeter_writer_rows_inserted_total",
    () => new Counter({ name: "tokenmeter_writer_rows_inserted_total", help: "Rows inserted into llm_usage", registers }),
  );
  const flushes = get(
    "tokenmeter_writer_flushes_total",
    () =>
      new Counter({ name: "tokenmeter_writer_flushes_total", help: "Successful flushes by trigger", labelNames: ["reason"], registers }),
  );
  const flushSeconds = get(
    "tokenmeter_writer_flush_duration_seconds",
    () =>
      new Histogram({
        name: "tokenmeter_writer_flush_duration_seconds",
        help: "Flush latency: dedup check + insert, retries included",
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      }),
  );
  const batchRows = get(
    "tokenmeter_writer_batch_rows",
    () =>
      new Histogram({
        name: "tokenmeter_writer_batch_rows",
        help: "Rows per insert",
        buckets: [1, 10, 100, 1_000, 5_000, 10_000, 20_000, 50_000],
        registers,
      }),
  );
  const batchBytes = get(
    "tokenmeter_writer_batch_bytes",
    () =>
      new Histogram({
        name: "tokenmeter_writer_batch_bytes",
        help: "payload bytes per insert (llm_usage TSV lines)",
        buckets: [1e3, 1e4, 1e5, 1e6, 4e6, 8e6, 16e6, 64e6],
        registers,
      }),
  );
  const duplicates = get(
    "tokenmeter_writer_duplicates_dropped_total",
    () =>
      new Counter({
        name: "tokenmeter_writer_duplicates_dropped_total",
        help: "Rows dropped because their event_id was repeated in the batch or already stored",
        registers,
      }),
  );
  const retries = get(
    "tokenmeter_writer_store_retries_total",
    () =>
      new Counter({
        name: "tokenmeter_writer_store_retries_total",
        help: "Retried store calls by operation",
        labelNames: ["op"],
        registers,
      }),
  );
  const failures = get(
    "tokenmeter_writer_flush_failures_total",
    () =>
      new Counter({ name: "tokenmeter_writer_flush_failures_total", help: "Flushes that failed for good (callers rejected)", registers }),
  );
  const refused = get(
    "tokenmeter_writer_rows_refused_total",
    () =>
      new Counter({
        name: "tokenmeter_writer_rows_refused_total",
        help: "Rows the engine refused (data error): set aside by splitting the insert, the rest stored",
        registers,
      }),
  );
  const bufferedBytes = get(
    "tokenmeter_writer_buffered_bytes",
    () => new Gauge({ name: "tokenmeter_writer_buffered_bytes", help: "Bytes buffered or in flight", registers }),
  );
  const lastEventTime = get(
    "tokenmeter_writer_last_event_time_seconds",
    () => new Gauge({ name: "tokenmeter_writer_last_event_time_seconds", help: "Newest event_time inserted (unix seconds)", registers }),
  );

  let newest = 0;
  return {
    retries,
    failures,
    refused,
    bufferedBytes,
    batchBytes,
    /** One successful flush. */
    record(reason: string, inserted: number, dropped: number, ms: number, newestEventMs: number | null) {
      flushes.inc({ reason });
      flushSeconds.observe(ms / 1000);
      if (inserted > 0) {
        rows.inc(inserted);
        batchRows.observe(inserted);
      }
      if (dropped > 0) duplicates.inc(dropped);
      if (newestEventMs !== null && newestEventMs > newest) {
        newest = newestEventMs;
        lastEventTime.set(newest / 1000);
      }
    },
  };
}

export type WriterMetrics = ReturnType<typeof createWriterMetrics>;
