import type { Logger } from "pino";
import type { PriceBook } from "./price-book.js";
import type { PricingUpdates, Unsubscribe } from "./updates.js";

export interface FollowOptions {
  book: PriceBook;
  updates: PricingUpdates;
  logger: Logger;
  /** Called after each successful reload (metrics, tests). */
  onReload?: (version: string) => void;
}

/**
 * Keeps a PriceBook current: every "pricing updated" reloads it from
 * model_pricing. Reloads never overlap; one arriving during a reload runs once
 * after it. A failed reload keeps the last good prices and is logged.
 */
export async function followPricingUpdates(opts: FollowOptions): Promise<Unsubscribe> {
  let running: Promise<void> | undefined;
  let again = false;
  const reload = async (): Promise<void> => {
    do {
      again = false;
      try {
        await opts.book.reload();
        opts.logger.info({ op: "pricing_reload", version: opts.book.version, models: opts.book.size }, "prices reloaded");
        opts.onReload?.(opts.book.version);
      } catch (err) {
        opts.logger.error({ op: "pricing_reload", err }, "price reload failed; keeping the last good prices");
      }
    } while (again);
  };
  return opts.updates.subscribe(() => {
    if (running) {
      again = true;
      return;
    }
    running = reload().finally(() => {
      running = undefined;
    });
  });
}
