import { Counter, type Registry } from "prom-client";

/**
 * `POST /v1/traces` counters, per dialect (`none` for spans that speak no
 * GenAI dialect). received = mapped + skipped + rejected. Registered on the
 * injected registry; a second route set on the same registry reuses them.
 */
export function createTraceMetrics(registry?: Registry) {
  const registers = registry ? [registry] : [];
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    (registry?.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers });
  return {
    received: counter("tokenmeter_otlp_spans_received_total", "Spans received on /v1/traces", ["dialect"]),
    mapped: counter("tokenmeter_otlp_spans_mapped_total", "Spans stored as usage events (durable)", ["dialect"]),
    skipped: counter("tokenmeter_otlp_spans_skipped_total", "Spans that are not model calls, by reason", ["dialect", "reason"]),
    rejected: counter("tokenmeter_otlp_spans_rejected_total", "Spans refused (partialSuccess), by reason", ["dialect", "reason"]),
  };
}
export type TraceMetrics = ReturnType<typeof createTraceMetrics>;
