import type { Store } from "@tokenmeter/clickhouse";
import { computeCostBreakdown, type PricedCost, type Pricer, type UsageEvent } from "@tokenmeter/core";
import { candidateKeys } from "./normalize.js";
import { loadPriceVersions, type PriceVersion } from "./pricing-table.js";

/** Bounds the (provider, model) → key memo; runtimes send few distinct names, a flood must not grow it forever. */
const MAX_RESOLVED = 10_000;

/**
 * Effective-dated price lookup: the `Pricer` ingest prices every event with.
 * Holds the whole model_pricing table in memory, so `price()` is synchronous
 * and never waits on storage; `reload()` swaps in a fresh table when a
 * "pricing updated" message arrives.
 */
export class PriceBook implements Pricer {
  private byModel = new Map<string, PriceVersion[]>();
  private resolved = new Map<string, string | null>();
  private latestVersion = "";

  constructor(
    versions: readonly PriceVersion[] = [],
    private readonly store?: Store,
  ) {
    this.replace(versions);
  }

  /** A book loaded from model_pricing that can `reload()` from it. */
  static async load(store: Store): Promise<PriceBook> {
    return new PriceBook(await loadPriceVersions(store), store);
  }

  /** Re-reads model_pricing. A failed read keeps the current table (last good prices). */
  async reload(): Promise<void> {
    if (!this.store) throw new Error("PriceBook has no store to reload from");
    this.replace(await loadPriceVersions(this.store));
  }

  /** Swaps in a new table at once; lookups never see half of it. */
  replace(versions: readonly PriceVersion[]): void {
    const byModel = new Map<string, PriceVersion[]>();
    let latest: PriceVersion | undefined;
    for (const v of versions) {
      const list = byModel.get(v.model) ?? [];
      list.push(v);
      byModel.set(v.model, list);
      if (!latest || v.effective_from_ms > latest.effective_from_ms) latest = v;
    }
    for (const list of byModel.values()) list.sort((a, b) => a.effective_from_ms - b.effective_from_ms);
    this.byModel = byModel;
    this.resolved = new Map();
    this.latestVersion = latest?.version ?? "";
  }

  /** Reported cost kept; else computed with the prices in effect at event_time; else unpriced (0). */
  price(e: UsageEvent): PricedCost {
    if (e.cost_usd !== null) return { cost_usd: e.cost_usd, cost_source: "reported", pricing_version: "" };
    const v = this.lookup(e.provider, e.model, e.event_time_ms);
    if (!v) return { cost_usd: 0, cost_source: "unpriced", pricing_version: "" };
    const b = computeCostBreakdown(v.prices, e);
    const cost = b.input + b.cached_input + b.cache_write + b.output + b.reasoning + b.units;
    return { cost_usd: cost, cost_source: "computed", pricing_version: v.version, breakdown: b };
  }

  /** The price version for a model at an instant, after name normalization. */
  lookup(provider: string, model: string, atMs: number): PriceVersion | undefined {
    const key = this.resolve(provider, model);
    if (key === null) return undefined;
    const list = this.byModel.get(key) ?? [];
    // Versions are few per model; a backwards scan finds the one in effect.
    for (let i = list.length - 1; i >= 0; i--) {
      const v = list[i];
      if (v && v.effective_from_ms <= atMs) return v;
    }
    return undefined;
  }

  /** The table key a reported (provider, model) prices as, or null if none. */
  resolve(provider: string, model: string): string | null {
    const memoKey = `${provider}\u0000${model}`;
    const memo = this.resolved.get(memoKey);
    if (memo !== undefined) return memo;
    const key = candidateKeys(provider, model).find((k) => this.byModel.has(k)) ?? null;
    if (this.resolved.size >= MAX_RESOLVED) this.resolved.clear();
    this.resolved.set(memoKey, key);
    return key;
  }

  /** The newest version of every model (what the pricing API lists). */
  current(): PriceVersion[] {
    const out: PriceVersion[] = [];
    for (const list of this.byModel.values()) {
      const last = list[list.length - 1];
      if (last) out.push(last);
    }
    return out.sort((a, b) => a.model.localeCompare(b.model));
  }

  /** Version of the most recent price change ('' when the book is empty). */
  get version(): string {
    return this.latestVersion;
  }

  get size(): number {
    return this.byModel.size;
  }
}
