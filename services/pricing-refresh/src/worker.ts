import type { Store } from "@tokenmeter/clickhouse";
import type { AlertJobsEnv, WebhookEnv } from "@tokenmeter/config";
import type { PricingUpdates } from "@tokenmeter/pricing";
import { type AlertJobs, deliveryPolicy, startAlertJobs } from "@tokenmeter/query";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { z } from "zod";
import type { PricingConfig } from "./config.js";
import type { RefreshResult } from "./refresh.js";
import { type PricingRefresh, startPricingRefresh } from "./start.js";

/** The worker's settings: the price refresh's, webhook delivery's and the alert schedule's. */
export type WorkerSettings = PricingConfig & z.output<typeof WebhookEnv> & z.output<typeof AlertJobsEnv>;

export interface WorkerDeps {
  store: Store;
  config: WorkerSettings;
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
  /** Alert evaluation and webhook delivery. */
  alerts: AlertJobs;
  /** Runs one price refresh now, outside the schedule (CLI, tests). */
  refreshNow(): Promise<RefreshResult>;
  /** Lets running jobs finish, then closes the queues. */
  close(): Promise<void>;
}

/**
 * The worker, whole: every background job of a deployment — the price
 * refresh (repeatable) and re-pricing runs, alert evaluation and webhook
 * delivery. This is the one place they start and stop; the standalone
 * process (main.ts) and the all-in-one both call it.
 */
export async function createWorker(deps: WorkerDeps): Promise<Worker> {
  // 1. Prices: seed an empty table, refresh on schedule, re-price on demand.
  const pricing = await startPricingRefresh(deps);
  // 2. Alerts: BullMQ on the same connection in the worker, in-process timers embedded.
  const alerts = await startAlertJobs({
    store: deps.store,
    logger: deps.logger,
    policy: deliveryPolicy(deps.config),
    intervalMs: deps.config.TOKENMETER_ALERT_EVAL_INTERVAL_MS,
    queueName: deps.config.TOKENMETER_ALERT_QUEUE,
    ...(deps.bullConnection ? { bullConnection: deps.bullConnection } : {}),
  });
  return {
    pricing,
    alerts,
    refreshNow: () => pricing.refreshNow(),
    async close() {
      await alerts.close();
      await pricing.close();
    },
  };
}
