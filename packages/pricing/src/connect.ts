import { createOutageLog } from "@tokenmeter/core";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { InProcessPricingUpdates, type PricingUpdates, pricingChannel, RedisPricingUpdates } from "./updates.js";

export interface PricingUpdatesSettings {
  /** Set: "pricing updated" travels over this Redis (every process of a deployment hears it). */
  TOKENMETER_REDIS_URL?: string;
  /** Prefix of the `<prefix>:pricing-updated` channel. */
  TOKENMETER_REDIS_PREFIX: string;
}

export interface PricingUpdatesConnection {
  updates: PricingUpdates;
  /** Closes the publishing connection (subscriptions close through their own Unsubscribe). */
  close(): void;
}

/**
 * The "pricing updated" channel the settings ask for: Redis pub/sub when a
 * URL is set, else in-process (the embedded default, where the refresh runs
 * in the same process). One place, so the worker, ingest and the all-in-one
 * can never listen on different channels.
 */
export function connectPricingUpdates(c: PricingUpdatesSettings, logger: Logger): PricingUpdatesConnection {
  if (!c.TOKENMETER_REDIS_URL) return { updates: new InProcessPricingUpdates(), close: () => undefined };
  const redis = new Redis(c.TOKENMETER_REDIS_URL, { maxRetriesPerRequest: 3 });
  // An outage is one warn line when it starts and one when it ends, no stacks (the client reconnects by itself).
  createOutageLog(logger, "redis (pricing publisher)").watch(redis);
  return {
    updates: new RedisPricingUpdates({ redis, channel: pricingChannel(c.TOKENMETER_REDIS_PREFIX), logger }),
    close: () => redis.disconnect(),
  };
}
