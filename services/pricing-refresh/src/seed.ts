import type { Store } from "@tokenmeter/clickhouse";
import { InProcessPricingUpdates } from "@tokenmeter/pricing";
import type { Logger } from "pino";
import { type RefreshResult, runPricingRefresh } from "./refresh.js";
import { bundledSource } from "./sources/index.js";

/**
 * Fills an empty model_pricing from the bundled snapshot (every model
 * effective from the epoch), so a fresh install prices events offline at once.
 * Does nothing once any price exists: later changes come from refreshes.
 */
export async function seedBundledPrices(store: Store, logger: Logger): Promise<RefreshResult | null> {
  const [row] = await store.query<{ n: number }>("SELECT count() AS n FROM model_pricing");
  if (Number(row?.n ?? 0) > 0) return null;
  // No one has a PriceBook loaded before the seed; callers load theirs after it.
  return runPricingRefresh({ store, source: bundledSource(), updates: new InProcessPricingUpdates(), logger });
}
