import type { ModelPrices } from "@tokenmeter/core";
import { type ModelPriceEntry, PricingDocumentError } from "./litellm.js";
import type { PriceVersion } from "./pricing-table.js";
import { extraJson } from "./pricing-table.js";

export interface PriceDiff {
  /** Models the table has never priced. */
  added: ModelPriceEntry[];
  /** Models whose prices differ from their newest version. */
  changed: ModelPriceEntry[];
  unchanged: number;
}

/** Newest version of each model, from versions in any order. */
export function latestByModel(versions: readonly PriceVersion[]): Map<string, PriceVersion> {
  const latest = new Map<string, PriceVersion>();
  for (const v of versions) {
    const cur = latest.get(v.model);
    if (!cur || v.effective_from_ms >= cur.effective_from_ms) latest.set(v.model, v);
  }
  return latest;
}

/** Compares a parsed document with the newest version of each model. */
export function diffPrices(current: readonly PriceVersion[], next: readonly ModelPriceEntry[]): PriceDiff {
  const latest = latestByModel(current);
  const diff: PriceDiff = { added: [], changed: [], unchanged: 0 };
  for (const e of next) {
    const cur = latest.get(e.model);
    if (!cur) diff.added.push(e);
    else if (!samePrices(cur.prices, e.prices)) diff.changed.push(e);
    else diff.unchanged++;
  }
  return diff;
}

export function samePrices(a: ModelPrices, b: ModelPrices): boolean {
  return canonical(a) === canonical(b);
}

function canonical(p: ModelPrices): string {
  const tiers = [...p.tiers].sort((x, y) => x.above_input_tokens - y.above_input_tokens);
  return JSON.stringify([
    p.input,
    p.output,
    p.cache_read,
    p.cache_write,
    p.reasoning,
    tiers.map((t) => [t.above_input_tokens, t.input, t.output, t.cache_read, t.cache_write]),
    // v1.1: unit and service-tier prices are prices too (extraJson: keys in a fixed order).
    extraJson(p),
  ]);
}

export interface PlanOptions {
  version: string;
  source: string;
  /** When changed prices take effect: the refresh time. */
  nowMs: number;
  /**
   * When a model seen for the first time takes effect. Default 0 (the epoch):
   * a model's first price is the best price known for its past events too, so
   * events that were stored unpriced can be re-priced with it.
   */
  addedEffectiveFromMs?: number;
}

/** The rows to append for a diff: nothing for unchanged models. */
export function planVersions(diff: PriceDiff, opts: PlanOptions): PriceVersion[] {
  const base = { version: opts.version, source: opts.source };
  return [
    ...diff.added.map((e) => ({ ...e, ...base, effective_from_ms: opts.addedEffectiveFromMs ?? 0 })),
    ...diff.changed.map((e) => ({ ...e, ...base, effective_from_ms: opts.nowMs })),
  ];
}

/**
 * Rejects a document that lost too many of the models this same source priced
 * before: a truncated download or an upstream mistake, not a real withdrawal.
 * Models of other sources (an operator's own file, the bundled snapshot) do not count.
 */
export function assertNotPartial(
  current: readonly PriceVersion[],
  next: readonly ModelPriceEntry[],
  source: string,
  maxMissingFraction = 0.5,
): void {
  const names = new Set(next.map((e) => e.model));
  const own = [...latestByModel(current).values()].filter((v) => v.source === source);
  const missing = own.filter((v) => !names.has(v.model));
  if (own.length > 0 && missing.length > own.length * maxMissingFraction) {
    throw new PricingDocumentError(
      `partial document: ${missing.length} of ${own.length} models priced by ${source} are missing (allowed ${Math.round(maxMissingFraction * 100)} %)`,
    );
  }
}

/** A version id for one refresh: sortable time plus the document hash, e.g. "20261123T120000Z-3f2a9c1e". */
export function versionId(nowMs: number, sha256: string): string {
  const t = new Date(nowMs)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  return `${t}-${sha256.slice(0, 8)}`;
}
