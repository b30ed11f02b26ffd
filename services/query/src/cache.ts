import { createOutageLog } from "@tokenmeter/core";
import { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";

/**
 * Where serialized query results are kept between requests. Values are the
 * JSON text of a response; every call may fail (the caller then answers from
 * the store), none may hang.
 */
export interface ResultCache {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Throws when the cache cannot be reached (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface MemoryResultCacheOptions {
  /** Most entries kept; least recently used go first. Default 5 000. */
  maxEntries?: number;
  /** Most characters of cached JSON kept in all (a grouped series can be large). Default 64 Mi. */
  maxChars?: number;
  /** Clock for TTLs, injected by tests. Default `performance.now`. */
  now?: () => number;
}

/** The embedded default: an in-process LRU with per-entry TTLs. */
export class MemoryResultCache implements ResultCache {
  private readonly lru: LRUCache<string, string>;

  constructor(opts: MemoryResultCacheOptions = {}) {
    const now = opts.now;
    this.lru = new LRUCache<string, string>({
      max: opts.maxEntries ?? 5_000,
      maxSize: opts.maxChars ?? 64 * 1024 * 1024,
      sizeCalculation: (value) => Math.max(1, value.length),
      ttlAutopurge: false,
      // An injected clock is read on every check (no 1 ms memo of "now").
      ...(now ? { perf: { now }, ttlResolution: 0 } : {}),
    });
  }

  async get(key: string): Promise<string | null> {
    return this.lru.get(key) ?? null;
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.lru.set(key, value, { ttl: ttlSeconds * 1000 });
  }

  /** Remaining TTL in ms (0 when absent): lets tests check the TTL given. */
  ttlMs(key: string): number {
    return Math.max(0, this.lru.getRemainingTTL(key));
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.lru.clear();
  }
}

export interface RedisResultCacheOptions {
  url: string;
  /** Prepended to every key (tests use a unique one). Default "tokenmeter:q:". */
  keyPrefix?: string;
  /** Per-command timeout in ms: an outage costs at most this much per request. Default 250. */
  commandTimeoutMs?: number;
  logger: Logger;
}

/**
 * Redis cache-aside store. Commands fail fast while Redis is down (no offline
 * queue, a command timeout, no per-request retries) so a request falls through
 * to ClickHouse instead of waiting; the client keeps reconnecting in the background.
 */
export class RedisResultCache implements ResultCache {
  readonly redis: Redis;

  constructor(opts: RedisResultCacheOptions) {
    const timeout = opts.commandTimeoutMs ?? 250;
    this.redis = new Redis(opts.url, {
      keyPrefix: opts.keyPrefix ?? "tokenmeter:q:",
      enableOfflineQueue: false,
      commandTimeout: timeout,
      connectTimeout: Math.max(timeout, 1_000),
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(times * 200, 2_000),
      lazyConnect: false,
    });
    // Without an error listener ioredis prints every reconnect failure with a stack; one warn line per outage instead.
    createOutageLog(opts.logger, "redis (result cache)").watch(this.redis);
  }

  /** Resolves once connected, or after `ms` (the service still starts with Redis down). */
  async ready(ms = 2_000): Promise<boolean> {
    if (this.redis.status === "ready") return true;
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.redis.off("ready", onReady);
        resolve(false);
      }, ms);
      const onReady = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.redis.once("ready", onReady);
    });
  }

  async get(key: string): Promise<string | null> {
    return await this.redis.get(key);
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(key, value, "EX", ttlSeconds);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

export interface ResultCacheSettings {
  /** Set: the shared Redis cache; unset: the in-process LRU. */
  TOKENMETER_REDIS_URL?: string;
  TOKENMETER_REDIS_KEY_PREFIX: string;
  TOKENMETER_CACHE_MAX_ENTRIES: number;
}

/**
 * The result cache the settings ask for: Redis when a URL is set (the
 * service starts even while Redis is down: misses go to the store), else
 * the in-memory LRU. One place, so every process that serves queries caches alike.
 */
export async function createResultCache(c: ResultCacheSettings, logger: Logger): Promise<ResultCache> {
  if (!c.TOKENMETER_REDIS_URL) return new MemoryResultCache({ maxEntries: c.TOKENMETER_CACHE_MAX_ENTRIES });
  const redis = new RedisResultCache({ url: c.TOKENMETER_REDIS_URL, keyPrefix: c.TOKENMETER_REDIS_KEY_PREFIX, logger });
  if (!(await redis.ready())) logger.warn({ op: "start" }, "redis result cache not reachable yet; answering from the store");
  return redis;
}
