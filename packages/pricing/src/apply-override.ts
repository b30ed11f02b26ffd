import type { Store } from "@tokenmeter/clickhouse";
import { oldestAcceptedMs } from "@tokenmeter/core";
import type { Logger } from "pino";
import { type PriceOverride, savePriceOverride } from "./overrides.js";
import { PriceBook } from "./price-book.js";
import { reprice } from "./reprice.js";
import { INSERT_LOOKBACK_MS, type StragglerScheduler, storeNowMs } from "./stragglers.js";
import type { PricingUpdates } from "./updates.js";

export interface ApplyOverrideOptions {
  store: Store;
  override: PriceOverride;
  /**
   * Where "pricing updated" is published so every pricer reloads: Redis in a
   * deployment (every ingest replica), in-process in the all-in-one. Unset: no
   * other pricer is told (the CLI, whose processes price nothing afterwards).
   */
  updates?: PricingUpdates;
  logger: Logger;
  /** Clock in epoch ms (default Date.now): the end of the re-priced range and the retention guard. */
  now?: () => number;
  /**
   * Where the second, straggler pass goes once the first is done: the query
   * service's StragglerPasses (run in the background, after the answer), the
   * CLI's (which waits for it). Unset: no second pass. None either when
   * "pricing updated" was not published: no pricer reloads, so there is
   * nothing a few seconds' wait would catch.
   */
  stragglers?: StragglerScheduler;
}

export interface AppliedOverride {
  rows_changed: number;
  /** Months whose raw rows were rewritten and rollups rebuilt (YYYY-MM). */
  months: string[];
  /** "pricing updated" was published (false: no channel, or publishing failed; see the log). */
  published: boolean;
}

/**
 * An org's price override, end to end — the one path of the API (query
 * service, standalone or all-in-one) and `tokenmeter pricing set`:
 * 1. save it (model_price_overrides);
 * 2. publish "pricing updated", so every process pricing events reloads and
 *    prices new events of the model with it (ADR 0005);
 * 3. re-price the model's stored history from max(effective_from, oldest row
 *    raw retains) to now + 1 min, rebuilding the touched rollup months;
 * 4. schedule the straggler pass (stragglers.ts): the same again, after the
 *    ingest processes have reloaded and flushed, for the org's rows stored
 *    since step 3 began — events priced with the old prices that were still
 *    in an ingest buffer when step 3 scanned their day.
 * Publishing comes before the re-pricing so the ingest replicas switch while
 * the history is rewritten; a failed publish is logged and the re-pricing
 * still runs (the next refresh's notice reloads the replicas).
 */
export async function applyPriceOverride(opts: ApplyOverrideOptions): Promise<AppliedOverride> {
  const o = opts.override;
  const log = opts.logger.child({ op: "price_override", org_id: o.org_id, model: o.model });
  await savePriceOverride(opts.store, o);
  const book = await PriceBook.load(opts.store);
  let published = false;
  if (opts.updates) {
    try {
      await opts.updates.publish({ version: book.version, changed_models: 1 });
      published = true;
    } catch (err) {
      log.error({ err }, "override saved but 'pricing updated' not published; ingest prices with it after the next notice");
    }
  }
  const nowMs = (opts.now ?? Date.now)();
  const from = Math.max(o.effective_from_ms, oldestAcceptedMs(nowMs));
  // Read before the scan: a row stamped earlier (less the lookback) was in the table when the scan passed it.
  const scanStartMs = published && opts.stragglers ? await storeNowMs(opts.store) : undefined;
  const report = await reprice({
    store: opts.store,
    book,
    model: o.model,
    // History older than raw's retention has no raw rows to re-price.
    from: new Date(from),
    to: new Date(nowMs + 60_000),
    logger: log,
    now: () => nowMs,
  });
  if (scanStartMs !== undefined)
    opts.stragglers?.schedule({ org_id: o.org_id, model: o.model, from_ms: from, ingested_since_ms: scanStartMs - INSERT_LOOKBACK_MS });
  log.info({ rows_changed: report.rows_changed, published, straggler_pass: scanStartMs !== undefined }, "price override applied");
  return { rows_changed: report.rows_changed, months: report.months.map((m) => m.month), published };
}
