import type { Store } from "@tokenmeter/clickhouse";
import { InProcessPricingUpdates, type PricingUpdates } from "@tokenmeter/pricing";
import type { Logger } from "pino";
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
