import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { ResultCache } from "./cache.js";
import type { QueryMetrics } from "./metrics.js";

export interface CacheAsideOptions {
  cache: ResultCache;
  logger: Logger;
  metrics: QueryMetrics;
}

export interface Cached {
  body: string;
  hit: boolean;
}

/** SHA-256 of (org, endpoint, canonical params): params are sorted so equal queries share a key. */
export function cacheKey(org_id: string, endpoint: string, params: Record<string, unknown>): string {
  return createHash("sha256")
    .update(JSON.stringify([org_id, endpoint, canonical(params)]))
    .digest("hex");
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, x]) => [k, canonical(x)]),
    );
  }
  return v;
}

/**
 * Cache-aside with single flight: a hit never runs `load`; concurrent misses of
 * one key share one `load`; a failing cache is logged, counted and bypassed,
 * never an error for the caller.
 */
export function createCacheAside(opts: CacheAsideOptions) {
  const inflight = new Map<string, Promise<string>>();

  async function read(key: string): Promise<string | null> {
    try {
      return await opts.cache.get(key);
    } catch (err) {
      opts.metrics.cacheErrors.inc({ op: "get" });
      // Per request at debug: the outage itself is one warn line of the cache's client (cache.ts), and counted here.
      opts.logger.debug({ op: "cache_get", err: (err as Error).message }, "result cache unavailable, answering from the store");
      return null;
    }
  }

  async function write(key: string, body: string, ttlSeconds: number): Promise<void> {
    try {
      await opts.cache.set(key, body, ttlSeconds);
    } catch (err) {
      opts.metrics.cacheErrors.inc({ op: "set" });
      opts.logger.debug({ op: "cache_set", err: (err as Error).message }, "result cache unavailable, result not cached");
    }
  }

  /** A request that arrives while the same query runs waits for it: not a cache hit, not a second query. */
  async function join(endpoint: string, run: Promise<string>): Promise<Cached> {
    opts.metrics.cache.inc({ endpoint, result: "coalesced" });
    return { body: await run, hit: false };
  }

  return async function cached(endpoint: string, key: string, ttlSeconds: number, load: () => Promise<string>): Promise<Cached> {
    const shared = inflight.get(key);
    if (shared) return await join(endpoint, shared);
    const hit = await read(key);
    if (hit !== null) {
      opts.metrics.cache.inc({ endpoint, result: "hit" });
      return { body: hit, hit: true };
    }
    // Re-check: another request may have started the load while we read the cache.
    const again = inflight.get(key);
    if (again) return await join(endpoint, again);
    opts.metrics.cache.inc({ endpoint, result: "miss" });
    opts.metrics.storeQueries.inc({ endpoint });
    const run = (async () => {
      const body = await load();
      await write(key, body, ttlSeconds);
      return body;
    })();
    inflight.set(key, run);
    try {
      return { body: await run, hit: false };
    } finally {
      inflight.delete(key);
    }
  };
}

export type CacheAside = ReturnType<typeof createCacheAside>;
