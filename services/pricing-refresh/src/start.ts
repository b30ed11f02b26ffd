import type { Store } from "@tokenmeter/clickhouse";
import { PriceBook, type PricingUpdates, reprice } from "@tokenmeter/pricing";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { PricingConfig } from "./config.js";
import { type PricingWorker, type RepriceJobData, startPricingWorker } from "./job.js";
import { createPricingMetrics } from "./metrics.js";
import { type RefreshResult, runPricingRefresh } from "./refresh.js";
import { type InProcessSchedule, startInProcessSchedule } from "./schedule.js";
import { reportStoredPrices, seedBundledPrices } from "./seed.js";
import { sourceFromSpec } from "./sources/index.js";

export interface StartPricingRefreshOptions {
  store: Store;
  config: PricingConfig;
  /** Where "pricing updated" goes (Redis pub/sub or in-process). */
  updates: PricingUpdates;
  logger: Logger;
  registry: Registry;
  /** Set: the distributed BullMQ job on this connection (maxRetriesPerRequest: null). Unset: an in-process schedule. */
  bullConnection?: Redis;
  /** Run a refresh at start (embedded default: yes, unless the source is the bundled snapshot). */
  refreshAtStart?: boolean;
}

export interface PricingRefresh {
  /** Runs one refresh now, outside the schedule (CLI, tests). */
  refreshNow(): Promise<RefreshResult>;
  /** The BullMQ worker in distributed mode. */
  worker?: PricingWorker;
  close(): Promise<void>;
}

/**
 * Starts the pricing job for either mode:
 * 1. seed model_pricing from the bundled snapshot if it is empty;
 * 2. distributed: register the repeatable BullMQ refresh (once per deployment)
 *    and work the queue, re-pricing jobs included;
 *    embedded: the same refresh on an in-process cron timer.
 */
export async function startPricingRefresh(opts: StartPricingRefreshOptions): Promise<PricingRefresh> {
  const { config, logger } = opts;
  const metrics = createPricingMetrics(opts.registry);
  const source = sourceFromSpec(config.TOKENMETER_PRICING_SOURCE, {
    timeoutMs: config.TOKENMETER_PRICING_FETCH_TIMEOUT_MS,
    retries: config.TOKENMETER_PRICING_FETCH_RETRIES,
  });
  const refresh = () =>
    runPricingRefresh({
      store: opts.store,
      source,
      updates: opts.updates,
      logger,
      metrics,
      minModels: config.TOKENMETER_PRICING_MIN_MODELS,
      maxMissingFraction: config.TOKENMETER_PRICING_MAX_MISSING_FRACTION,
    });
  // 1. seed
  await seedBundledPrices(opts.store, logger, opts.updates);
  await reportStoredPrices(opts.store, metrics);
  // 2. schedule
  if (opts.bullConnection) {
    const worker = await startPricingWorker({
      connection: opts.bullConnection,
      queueName: config.TOKENMETER_PRICING_QUEUE,
      cron: config.TOKENMETER_PRICING_CRON,
      attempts: config.TOKENMETER_PRICING_JOB_ATTEMPTS,
      backoffMs: config.TOKENMETER_PRICING_BACKOFF_MS,
      logger,
      refresh,
      reprice: async (data: RepriceJobData, job) => {
        const book = await PriceBook.load(opts.store);
        return reprice({
          store: opts.store,
          book,
          from: new Date(data.from),
          to: new Date(data.to),
          model: data.model,
          logger,
          onProgress: (p) => void job.updateProgress(Math.round((100 * p.days_done) / p.days_total)),
        });
      },
    });
    if (opts.refreshAtStart) await worker.refreshNow();
    return { refreshNow: refresh, worker, close: () => worker.close() };
  }
  const schedule: InProcessSchedule = startInProcessSchedule({
    cron: config.TOKENMETER_PRICING_CRON,
    run: refresh,
    logger,
    attempts: config.TOKENMETER_PRICING_JOB_ATTEMPTS,
    backoffMs: config.TOKENMETER_PRICING_BACKOFF_MS,
    runAtStart: opts.refreshAtStart ?? config.TOKENMETER_PRICING_SOURCE !== "bundled",
  });
  return {
    refreshNow: refresh,
    async close() {
      schedule.stop();
    },
  };
}
