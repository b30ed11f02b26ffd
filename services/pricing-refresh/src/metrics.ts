import { Counter, Gauge, type Registry } from "prom-client";

export type RefreshOutcome = "updated" | "unchanged" | "rejected" | "failed";

/** Refresh metrics, registered on the injected registry (no global default registry). */
export interface PricingMetrics {
  runs: Counter<"outcome">;
  changedModels: Counter;
  lastSuccess: Gauge;
  models: Gauge;
}

export function createPricingMetrics(registry: Registry): PricingMetrics {
  return {
    runs: new Counter({
      name: "tokenmeter_pricing_refresh_runs_total",
      help: "Pricing refresh attempts by outcome (updated, unchanged, rejected = bad document, failed = source or store error)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    changedModels: new Counter({
      name: "tokenmeter_pricing_changed_models_total",
      help: "Models that got a new price version",
      registers: [registry],
    }),
    lastSuccess: new Gauge({
      name: "tokenmeter_pricing_last_success_timestamp_seconds",
      help: "When a refresh last succeeded (updated or unchanged)",
      registers: [registry],
    }),
    models: new Gauge({
      name: "tokenmeter_pricing_models",
      help: "Models priced by the last accepted document",
      registers: [registry],
    }),
  };
}
