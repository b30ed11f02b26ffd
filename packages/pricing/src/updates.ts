import { EventEmitter } from "node:events";
import { createOutageLog, type OutageLogger } from "@tokenmeter/core";
import type { Redis } from "ioredis";

const SILENT: OutageLogger = { warn: () => {}, info: () => {} };

/** Sent after a refresh or an import wrote new price versions. */
export interface PricingUpdate {
  version: string;
  changed_models: number;
}

export type Unsubscribe = () => Promise<void>;

/**
 * The "pricing updated" signal: the refresh job publishes, every process that
 * prices events subscribes and reloads its PriceBook — no restart. Redis
 * pub/sub in distributed mode, an in-process emitter in the embedded default.
 */
export interface PricingUpdates {
  publish(update: PricingUpdate): Promise<void>;
  subscribe(listener: (update: PricingUpdate) => void): Promise<Unsubscribe>;
}

/** Channel name for a deployment; a prefix keeps tests and tenants of one Redis apart. */
export function pricingChannel(prefix = "tokenmeter"): string {
  return `${prefix}:pricing-updated`;
}

export class InProcessPricingUpdates implements PricingUpdates {
  private readonly emitter = new EventEmitter();

  async publish(update: PricingUpdate): Promise<void> {
    this.emitter.emit("update", update);
  }

  async subscribe(listener: (update: PricingUpdate) => void): Promise<Unsubscribe> {
    this.emitter.on("update", listener);
    return async () => {
      this.emitter.off("update", listener);
    };
  }
}

export interface RedisPricingUpdatesOptions {
  /** Publishing connection; subscribers get their own duplicate (a subscribed connection can do nothing else). */
  redis: Redis;
  channel?: string;
  /** Where the subscriber connection's outages go (one warn line each); without one they are not logged. */
  logger?: OutageLogger;
}

export class RedisPricingUpdates implements PricingUpdates {
  private readonly channel: string;

  constructor(private readonly opts: RedisPricingUpdatesOptions) {
    this.channel = opts.channel ?? pricingChannel();
  }

  async publish(update: PricingUpdate): Promise<void> {
    await this.opts.redis.publish(this.channel, JSON.stringify(update));
  }

  async subscribe(listener: (update: PricingUpdate) => void): Promise<Unsubscribe> {
    const sub = this.opts.redis.duplicate();
    // A duplicate has no listeners: without one, ioredis prints every reconnect failure of an outage with a stack.
    createOutageLog(this.opts.logger ?? SILENT, "redis (pricing updates subscriber)").watch(sub);
    sub.on("message", (channel: string, message: string) => {
      if (channel !== this.channel) return;
      // A foreign or garbled message on our channel still means "reload".
      let update: PricingUpdate = { version: "", changed_models: 0 };
      try {
        update = JSON.parse(message) as PricingUpdate;
      } catch {}
      listener(update);
    });
    await sub.subscribe(this.channel);
    return async () => {
      await sub.unsubscribe(this.channel).catch(() => undefined);
      sub.disconnect();
    };
  }
}
