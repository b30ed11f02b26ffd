import type { Store } from "@tokenmeter/clickhouse";
import type { PricingUpdates } from "@tokenmeter/pricing";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { PricingConfig } from "./config.js";
import type { RefreshResult } from "./refresh.js";
import { type PricingRefresh, startPricingRefresh } from "./start.js";

export interface WorkerDeps {
  store: Store;
  config: PricingConfig;
  /** Where "pricing updated" goes (Redis pub/sub, or in-process in the all-in-one). */
  updates: PricingUpdates;
  logger: Logger;
  registry: Registry;
  /** Set: the BullMQ jobs on this connection (maxRetriesPerRequest: null). Unset: in-process schedules. */
  bullConnection?: Redis;
  /** Run a price refresh at start. */
  refreshAtStart?: boolean;
}

export interface Worker {
  /** The price refresh and re-pricing jobs. */
  pricing: PricingRefresh;
  /** Runs one price refresh now, outside the schedule (CLI, tests). */
  refreshNow(): Promise<RefreshResult>;
  /** Lets running jobs finish, then closes the queues. */
  close(): Promise<void>;
}

/**
 * The worker, whole: every background job of a deployment. Today the price
 * refresh (repeatable) and re-pricing runs; this is the one place further
 * jobs (alert evaluation, webhook delivery) start and stop. The standalone
 * process (main.ts) and the all-in-one both call it.
 */
export async function createWorker(deps: WorkerDeps): Promise<Worker> {
  // 1. Prices: seed an empty table, refresh on schedule, re-price on demand.
  const pricing = await startPricingRefresh(deps);
  return {
    pricing,
    refreshNow: () => pricing.refreshNow(),
    async close() {
      await pricing.close();
    },
  };
}
