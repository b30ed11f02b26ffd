import type { Store } from "@tokenmeter/clickhouse";
import {
  assertNotPartial,
  diffPrices,
  insertPriceVersions,
  loadPriceVersions,
  PricingDocumentError,
  type PricingUpdates,
  parseLiteLlmDocument,
  planVersions,
  versionId,
} from "@tokenmeter/pricing";
import type { Logger } from "pino";
import type { PricingMetrics } from "./metrics.js";
import type { PriceSource } from "./sources/index.js";

export interface RefreshDeps {
  store: Store;
  source: PriceSource;
  updates: PricingUpdates;
  logger: Logger;
  metrics?: PricingMetrics;
  /** Injected clock: the effective_from of changed prices. */
  now?: () => number;
  /** A document pricing fewer models is rejected. Default 1. */
  minModels?: number;
  /** Share of this source's models a document may drop before it counts as partial. Default 0.5. */
  maxMissingFraction?: number;
}

export interface RefreshResult {
  version: string;
  added: number;
  changed: number;
  unchanged: number;
}

/**
 * One pricing refresh, all or nothing:
 * 1. fetch the document from the source;
 * 2. validate the whole document (a bad or partial one is rejected whole, the
 *    last good prices stay in model_pricing untouched);
 * 3. diff against the newest version of each model;
 * 4. append a version only for new and changed models (effective now; a new
 *    model's first price is effective from the epoch, see planVersions);
 * 5. publish "pricing updated" so every pricer reloads without a restart.
 * Throws on any failure so the caller (BullMQ or the in-process schedule) retries with backoff.
 */
export async function runPricingRefresh(deps: RefreshDeps): Promise<RefreshResult> {
  const started = Date.now();
  const nowMs = (deps.now ?? Date.now)();
  const log = deps.logger.child({ op: "pricing_refresh", source: deps.source.name });
  try {
    // 1. fetch
    const text = await deps.source.fetch();
    // 2. validate
    const doc = parseLiteLlmDocument(text, { minModels: deps.minModels ?? 1 });
    const current = await loadPriceVersions(deps.store);
    assertNotPartial(current, doc.entries, deps.source.name, deps.maxMissingFraction ?? 0.5);
    // 3. diff
    const diff = diffPrices(current, doc.entries);
    const version = versionId(nowMs, doc.sha256);
    const result = { version, added: diff.added.length, changed: diff.changed.length, unchanged: diff.unchanged };
    deps.metrics?.models.set(doc.entries.length);
    if (result.added + result.changed === 0) {
      deps.metrics?.runs.inc({ outcome: "unchanged" });
      deps.metrics?.lastSuccess.set(Date.now() / 1000);
      log.info({ ...result, ms: Date.now() - started }, "prices unchanged");
      return result;
    }
    // 4. write
    await insertPriceVersions(deps.store, planVersions(diff, { version, source: deps.source.name, nowMs }));
    // 5. publish; a lost message is repaired by the next refresh or a restart, the rows are already durable.
    await deps.updates.publish({ version, changed_models: result.added + result.changed }).catch((err: unknown) => {
      log.warn({ err }, "pricing updated written but not published");
    });
    deps.metrics?.runs.inc({ outcome: "updated" });
    deps.metrics?.changedModels.inc(result.added + result.changed);
    deps.metrics?.lastSuccess.set(Date.now() / 1000);
    log.info({ ...result, ms: Date.now() - started }, "prices updated");
    return result;
  } catch (err) {
    const rejected = err instanceof PricingDocumentError;
    deps.metrics?.runs.inc({ outcome: rejected ? "rejected" : "failed" });
    log.error(
      { err, rejected, ms: Date.now() - started },
      rejected ? "price document rejected; last good prices kept" : "pricing refresh failed",
    );
    throw err;
  }
}
