import { Counter, Histogram, type Registry } from "prom-client";

/** The query service's Prometheus metrics, registered once per registry. */
export interface QueryMetrics {
  requests: Counter<"route" | "method" | "status">;
  duration: Histogram<"route" | "method" | "status">;
  cache: Counter<"endpoint" | "result">;
  cacheErrors: Counter<"op">;
  storeQueries: Counter<"endpoint">;
}

/** Gets the metrics from the registry, creating them on first use (two apps may share one registry). */
export function queryMetrics(registry: Registry): QueryMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    requests: get(
      "tokenmeter_query_http_requests_total",
      () =>
        new Counter({
          name: "tokenmeter_query_http_requests_total",
          help: "HTTP requests answered, by route pattern, method and status",
          labelNames: ["route", "method", "status"],
          registers: [registry],
        }),
    ),
    duration: get(
      "tokenmeter_query_http_request_duration_seconds",
      () =>
        new Histogram({
          name: "tokenmeter_query_http_request_duration_seconds",
          help: "HTTP request latency, by route pattern, method and status",
          labelNames: ["route", "method", "status"],
          buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          registers: [registry],
        }),
    ),
    cache: get(
      "tokenmeter_query_cache_requests_total",
      () =>
        new Counter({
          name: "tokenmeter_query_cache_requests_total",
          help: "Result cache lookups, by endpoint and result (hit, miss, coalesced: joined a running miss)",
          labelNames: ["endpoint", "result"],
          registers: [registry],
        }),
    ),
    cacheErrors: get(
      "tokenmeter_query_cache_errors_total",
      () =>
        new Counter({
          name: "tokenmeter_query_cache_errors_total",
          help: "Result cache calls that failed (cache unreachable); the request was answered from the store",
          labelNames: ["op"],
          registers: [registry],
        }),
    ),
    storeQueries: get(
      "tokenmeter_query_store_queries_total",
      () =>
        new Counter({
          name: "tokenmeter_query_store_queries_total",
          help: "Cache misses that ran store queries, by endpoint",
          labelNames: ["endpoint"],
          registers: [registry],
        }),
    ),
  };
}
