import type { Store } from "@tokenmeter/clickhouse";
import { computeEventCost, type PricedCost, type Pricer, type UsageEvent } from "@tokenmeter/core";
import { candidateKeys } from "./normalize.js";
import { loadPriceOverrides, type PriceOverride } from "./overrides.js";
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
  /** org → model → its overrides, oldest first (an org's own prices win for its events). */
  private overrides = new Map<string, Map<string, PriceOverride[]>>();
  private versionList: readonly PriceVersion[] = [];
  private overrideList: readonly PriceOverride[] = [];
  private changes = 0;
  /** org → lower-case model → the same lists: the case-insensitive match without a scan per event. */
  private overridesFolded = new Map<string, Map<string, PriceOverride[]>>();
  /** Each override's pricing_version text, made once per load rather than once per event. */
  private overrideVersions = new Map<PriceOverride, string>();

  constructor(
    versions: readonly PriceVersion[] = [],
    private readonly store?: Store,
    overrides: readonly PriceOverride[] = [],
  ) {
    this.replace(versions);
    this.replaceOverrides(overrides);
  }

  /** A book loaded from model_pricing (and the orgs' overrides) that can `reload()` from them. */
  static async load(store: Store): Promise<PriceBook> {
    return new PriceBook(await loadPriceVersions(store), store, await loadOverridesIfAny(store));
  }

  /** Re-reads model_pricing and the overrides. A failed read keeps the current table (last good prices). */
  async reload(): Promise<void> {
    if (!this.store) throw new Error("PriceBook has no store to reload from");
    const [versions, overrides] = await Promise.all([loadPriceVersions(this.store), loadOverridesIfAny(this.store)]);
    this.replace(versions);
    this.replaceOverrides(overrides);
  }

  /** Swaps in the orgs' overrides. */
  replaceOverrides(overrides: readonly PriceOverride[]): void {
    this.overrideList = overrides;
    this.changes++;
    const out = new Map<string, Map<string, PriceOverride[]>>();
    for (const o of overrides) {
      const byModel = out.get(o.org_id) ?? new Map<string, PriceOverride[]>();
      const list = byModel.get(o.model) ?? [];
      list.push(o);
      byModel.set(o.model, list);
      out.set(o.org_id, byModel);
    }
    const folded = new Map<string, Map<string, PriceOverride[]>>();
    const versions = new Map<PriceOverride, string>();
    for (const [org, byModel] of out) {
      const lower = new Map<string, PriceOverride[]>();
      for (const [model, list] of byModel) {
        list.sort((a, b) => a.effective_from_ms - b.effective_from_ms);
        // The first model (in insertion order) of each lower-case name, as the scan this replaces found it.
        if (!lower.has(model.toLowerCase())) lower.set(model.toLowerCase(), list);
        for (const o of list) versions.set(o, `override:${new Date(o.effective_from_ms).toISOString()}`);
      }
      folded.set(org, lower);
    }
    this.overrides = out;
    this.overridesFolded = folded;
    this.overrideVersions = versions;
  }

  /** The org's override in effect for a model at an instant (exact name, then case-insensitive). */
  override(org: string, model: string, atMs: number): PriceOverride | undefined {
    const byModel = this.overrides.get(org);
    if (!byModel) return undefined;
    const list = byModel.get(model) ?? this.overridesFolded.get(org)?.get(model.toLowerCase()) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const o = list[i];
      if (o && o.effective_from_ms <= atMs) return o;
    }
    return undefined;
  }

  /** Swaps in a new table at once; lookups never see half of it. */
  replace(versions: readonly PriceVersion[]): void {
    this.versionList = versions;
    this.changes++;
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

  /**
   * Reported cost kept; else computed with the prices in effect at event_time
   * (tokens at the service tier's prices, units at their unit prices, image
   * calls at their size / quality variant); else unpriced (0) — also when a
   * unit the event carries has no price (never a silent $0).
   */
  price(e: UsageEvent): PricedCost {
    if (e.cost_usd !== null) return { cost_usd: e.cost_usd, cost_source: "reported", pricing_version: "" };
    const own = e.org_id ? this.override(e.org_id, e.model, e.event_time_ms) : undefined;
    if (own) {
      const c = computeEventCost(own.prices, e);
      if (c.unpriced_units.length > 0) return { cost_usd: 0, cost_source: "unpriced", pricing_version: "" };
      const version = this.overrideVersions.get(own) ?? `override:${new Date(own.effective_from_ms).toISOString()}`;
      return { cost_usd: c.total, cost_source: "computed", pricing_version: version, breakdown: c.breakdown };
    }
    // No image size: no variant (imageVariants would return []), without its allocation per event.
    const v = this.lookup(e.provider, e.model, e.event_time_ms, e.image_size ? imageVariants(e.image_size, e.image_quality) : NO_VARIANTS);
    if (!v) return { cost_usd: 0, cost_source: "unpriced", pricing_version: "" };
    const c = computeEventCost(v.prices, e);
    if (c.unpriced_units.length > 0) return { cost_usd: 0, cost_source: "unpriced", pricing_version: "" };
    return { cost_usd: c.total, cost_source: "computed", pricing_version: v.version, breakdown: c.breakdown };
  }

  /**
   * The price version for a model at an instant, after name normalization.
   * `variants` are key prefixes tried first, most specific first (image
   * `<quality>/<size>/`, then `<size>/`), each after any provider segment.
   */
  lookup(provider: string, model: string, atMs: number, variants: readonly string[] = []): PriceVersion | undefined {
    const key = this.resolve(provider, model, variants);
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
  resolve(provider: string, model: string, variants: readonly string[] = NO_VARIANTS): string | null {
    const memoKey = variants.length === 0 ? `${provider}\u0000${model}\u0000` : `${provider}\u0000${model}\u0000${variants.join("\u0000")}`;
    const memo = this.resolved.get(memoKey);
    if (memo !== undefined) return memo;
    const plain = candidateKeys(provider, model);
    const keys = [...variants.flatMap((v) => plain.flatMap((k) => withVariant(k, v))), ...plain];
    const key = keys.find((k) => this.byModel.has(k)) ?? null;
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

  /**
   * Bumped by every swap of the table or the overrides: a copy of the book
   * elsewhere (an ingest worker thread) prices like this one while their
   * serials match.
   */
  get serial(): number {
    return this.changes;
  }

  /** What the book was built from: `new PriceBook(versions, undefined, overrides)` prices the same. */
  tables(): { versions: readonly PriceVersion[]; overrides: readonly PriceOverride[] } {
    return { versions: this.versionList, overrides: this.overrideList };
  }

  get size(): number {
    return this.byModel.size;
  }
}

/** No image variant: shared by every call that is not an image call. */
const NO_VARIANTS: readonly string[] = Object.freeze([]);

/**
 * Image variant prefixes the way LiteLLM keys them: `<quality>/<size>/`, then
 * `<size>/`, size written `1024-x-1024` ("1024x1024" in events).
 */
export function imageVariants(size: string | undefined, quality: string | undefined): string[] {
  const s = size
    ? size
        .trim()
        .toLowerCase()
        .replace(/^(\d+)\s*(?:x|-x-|\*)\s*(\d+)$/, "$1-x-$2")
    : "";
  const q = quality ? quality.trim().toLowerCase() : "";
  if (!s) return [];
  return q ? [`${q}/${s}/`, `${s}/`] : [`${s}/`];
}

/** A key with a variant prefix: after its provider segment ("azure/hd/…/dall-e-3"), and bare ("hd/…/dall-e-3"). */
function withVariant(key: string, prefix: string): string[] {
  const slash = key.indexOf("/");
  return slash < 0 ? [`${prefix}${key}`] : [`${key.slice(0, slash + 1)}${prefix}${key.slice(slash + 1)}`];
}

/** Overrides, or none on a schema without the table (a store not yet migrated past 0008). */
async function loadOverridesIfAny(store: Store): Promise<PriceOverride[]> {
  try {
    return await loadPriceOverrides(store);
  } catch (err) {
    if (/model_price_overrides/.test((err as Error).message)) return [];
    throw err;
  }
}
