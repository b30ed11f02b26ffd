import type { Store } from "@tokenmeter/clickhouse";
import { InProcessPricingUpdates, type PricingUpdates } from "@tokenmeter/pricing";
import type { Logger } from "pino";
import type { PricingMetrics } from "./metrics.js";
import { type RefreshResult, runPricingRefresh } from "./refresh.js";
import { bundledSource } from "./sources/index.js";

/**
 * Fills an empty model_pricing from the bundled snapshot (every model
 * effective from the epoch), so a fresh install prices events offline at once.
 * Does nothing once any price exists: later changes come from refreshes.
 */
export async function seedBundledPrices(
  store: Store,
  logger: Logger,
  updates: PricingUpdates = new InProcessPricingUpdates(),
): Promise<RefreshResult | null> {
  const [row] = await store.query<{ n: number }>("SELECT count() AS n FROM model_pricing");
  if (Number(row?.n ?? 0) > 0) return null;
  // Published like any refresh: in k8s an ingest pod may have loaded its (empty) book before the worker seeded.
  return runPricingRefresh({ store, source: bundledSource(), updates, logger });
}

/**
 * Sets the pricing gauges from what the store holds at start: the models
 * priced and when prices were last written (the seed on a fresh store).
 * Without this they read 0 until the first scheduled refresh, and the
 * runbook's "refresh stale" alert fired on every start.
 */
export async function reportStoredPrices(store: Store, metrics: PricingMetrics): Promise<void> {
  const [row] = await store.query<{ models: number; recorded_ms: number }>(
    "SELECT uniqExact(model) AS models, toUnixTimestamp64Milli(max(recorded_at)) AS recorded_ms FROM model_pricing",
  );
  const models = Number(row?.models ?? 0);
  if (models === 0) return;
  metrics.models.set(models);
  metrics.lastSuccess.set(Number(row?.recorded_ms ?? 0) / 1000);
}
