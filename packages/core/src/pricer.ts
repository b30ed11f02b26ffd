import type { UsageEvent } from "./event.js";
import type { PricedCost } from "./row.js";

/**
 * The port ingest prices every event through, at the event's own time
 * (cost at call time: docs/adr). Synchronous on purpose: a real
 * pricer keeps the price table in memory and refreshes it out of band, so the
 * hot path never waits on storage.
 */
export interface Pricer {
  price(e: UsageEvent): PricedCost;
}

/**
 * Keeps a cost reported by the runtime (`cost_source = 'reported'`); anything
 * else is stored `'unpriced'` with cost 0 so a re-pricing job can fill it in later.
 */
export const reportedOrUnpriced: Pricer = {
  price(e) {
    if (e.cost_usd !== null) return { cost_usd: e.cost_usd, cost_source: "reported", pricing_version: "" };
    return { cost_usd: 0, cost_source: "unpriced", pricing_version: "" };
  },
};
