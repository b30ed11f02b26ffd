import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../test/support/store.js";
import { MemoryResultCache, RedisResultCache, type ResultCache } from "./cache.js";
import { countingStore, generateEvents, insertEvents, makeApp } from "./testing/fixture.js";

// Cache-aside: hits never touch the store, TTLs by granularity, the default end
// snaps to the minute, concurrent misses share one query, and a Redis outage
// mid-test changes no answer.
const NOW = Date.parse("2026-03-16T13:37:40Z");
const REDIS_URL = process.env.TOKENMETER_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const logger = pino({ level: "silent" });
let store: ChdbStore;

beforeAll(async () => {
  store = await openTestStore();
  await insertEvents(store, generateEvents({ orgs: ["org-a"], perOrg: 500, from: NOW - 20 * 86_400_000, to: NOW - 1_000 }));
});
afterAll(async () => {
  await dropTestStore(store);
});

/** Records the TTL of every set, on top of a real cache. */
function recording(inner: ResultCache): ResultCache & { ttls: number[] } {
  const ttls: number[] = [];
  return {
    ttls,
    get: (k) => inner.get(k),
    set: async (k, v, ttl) => {
      ttls.push(ttl);
      await inner.set(k, v, ttl);
    },
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
}

describe("memory cache", () => {
  it("serves a hit without any store query, with X-Cache and Cache-Control", async () => {
    const counted = countingStore(store);
    const t = makeApp({ store: counted, now: NOW });
    for (const e of ["usage", "latency", "models", "errors", "agents", "users", "summary"]) {
      const miss = await t.get(`/v1/analytics/${e}`, "org-a");
      expect(miss.headers.get("x-cache")).toBe("MISS");
      expect(miss.headers.get("server-timing")).toMatch(/^store;dur=\d+\.\d$/);
      const before = counted.queries;
      expect(before).toBeGreaterThan(0);
      const hit = await t.get(`/v1/analytics/${e}`, "org-a");
      expect(hit.headers.get("x-cache")).toBe("HIT");
      expect(hit.headers.get("server-timing")).toMatch(/^cache;dur=\d+\.\d$/);
      expect(hit.headers.get("cache-control")).toBe("private, max-age=60");
      expect(await hit.text()).toBe(await miss.text());
      expect(counted.queries).toBe(before);
      // Same answer in CSV: still a hit, the format is not part of the key.
      expect((await t.get(`/v1/analytics/${e}?format=csv`, "org-a")).headers.get("x-cache")).toBe("HIT");
      expect(counted.queries).toBe(before);
    }
  });

  it("keys on the org and canonical parameters: order and repetition do not matter, other orgs miss", async () => {
    const t = makeApp({ store, now: NOW });
    await t.get("/v1/analytics/usage?model=gpt-4o&provider=openai&model=claude-sonnet-4", "org-a");
    const same = await t.get("/v1/analytics/usage?provider=openai&model=claude-sonnet-4&model=gpt-4o&model=gpt-4o", "org-a");
    expect(same.headers.get("x-cache")).toBe("HIT");
    expect((await t.get("/v1/analytics/usage?provider=openai&model=claude-sonnet-4&model=gpt-4o", "org-b")).headers.get("x-cache")).toBe(
      "MISS",
    );
  });

  it("uses TTL 60 s for hour and day and 300 s for week and month", async () => {
    const cache = recording(new MemoryResultCache());
    const t = makeApp({ store, cache, now: NOW });
    for (const g of ["hour", "day", "week", "month"]) {
      const res = await t.get(`/v1/analytics/usage?granularity=${g}`, "org-a");
      expect(res.headers.get("cache-control")).toBe(`private, max-age=${g === "week" || g === "month" ? 300 : 60}`);
    }
    expect(cache.ttls).toEqual([60, 60, 300, 300]);
  });

  it("expires entries after their TTL", async () => {
    let clock = 1_000;
    const cache = new MemoryResultCache({ now: () => clock });
    await cache.set("k", "v", 60);
    expect(cache.ttlMs("k")).toBe(60_000);
    clock += 59_000;
    expect(await cache.get("k")).toBe("v");
    clock += 1_001;
    expect(await cache.get("k")).toBeNull();
  });

  it("bounds the memory cache by entries and by size", async () => {
    const cache = new MemoryResultCache({ maxEntries: 3, maxChars: 10 });
    await cache.set("a", "1234", 60);
    await cache.set("b", "1234", 60);
    await cache.set("c", "1234", 60); // 12 chars > 10: the least recently used goes
    expect(await cache.get("a")).toBeNull();
    expect(await cache.get("c")).toBe("1234");
  });

  it("snaps the default end to the minute so requests within a minute hit", async () => {
    let now = Date.parse("2026-03-16T13:37:05Z");
    const counted = countingStore(store);
    const t = makeApp({ store: counted, now: () => now });
    expect((await t.get("/v1/analytics/summary", "org-a")).headers.get("x-cache")).toBe("MISS");
    now = Date.parse("2026-03-16T13:37:59Z");
    expect((await t.get("/v1/analytics/summary", "org-a")).headers.get("x-cache")).toBe("HIT");
    now = Date.parse("2026-03-16T13:38:00Z");
    expect((await t.get("/v1/analytics/summary", "org-a")).headers.get("x-cache")).toBe("MISS");
  });

  it("runs one query for concurrent misses of one key", async () => {
    const counted = countingStore(store);
    const t = makeApp({ store: counted, now: NOW });
    // The first request also reads the promoted tag keys (cached for 30 s): measure a second one.
    await t.get("/v1/analytics/usage?granularity=week", "org-a");
    counted.queries = 0;
    await t.get("/v1/analytics/usage?granularity=day", "org-a");
    const perRequest = counted.queries;
    counted.queries = 0;
    const bodies = await Promise.all(
      Array.from({ length: 8 }, () => t.get("/v1/analytics/usage?granularity=hour", "org-a").then((r) => r.text())),
    );
    expect(counted.queries).toBe(perRequest);
    expect(new Set(bodies).size).toBe(1);
  });
});

describe("redis cache", () => {
  it("hits from real Redis with the TTL set on the key", async () => {
    const prefix = `tm-test:${randomUUID()}:`;
    const cache = new RedisResultCache({ url: REDIS_URL, keyPrefix: prefix, logger });
    expect(await cache.ready()).toBe(true);
    const counted = countingStore(store);
    const t = makeApp({ store: counted, cache, now: NOW });
    expect((await t.get("/v1/analytics/usage?granularity=week", "org-a")).headers.get("x-cache")).toBe("MISS");
    const n = counted.queries;
    expect((await t.get("/v1/analytics/usage?granularity=week", "org-a")).headers.get("x-cache")).toBe("HIT");
    expect(counted.queries).toBe(n);
    const plain = new Redis(REDIS_URL);
    try {
      const keys = await plain.keys(`${prefix}*`);
      expect(keys).toHaveLength(1);
      const ttl = await plain.ttl(keys[0] as string);
      expect(ttl).toBeGreaterThan(290);
      expect(ttl).toBeLessThanOrEqual(300);
      await plain.del(...keys);
    } finally {
      plain.disconnect();
      await cache.close();
    }
  });

  it("keeps answering, unchanged, when Redis dies mid-test", async () => {
    const port = await freePort();
    let server = startRedis(port);
    const cache = new RedisResultCache({ url: `redis://127.0.0.1:${port}`, keyPrefix: "tm-outage:", logger, commandTimeoutMs: 200 });
    try {
      expect(await cache.ready(5_000)).toBe(true);
      const t = makeApp({ store, cache, now: NOW });
      const paths = ["/v1/analytics/usage", "/v1/analytics/summary", "/v1/analytics/latency?granularity=hour"];
      const before: string[] = [];
      for (const p of paths) {
        before.push(await (await t.get(p, "org-a")).text());
        expect((await t.get(p, "org-a")).headers.get("x-cache")).toBe("HIT");
      }
      expect((await t.app.request("/readyz")).status).toBe(200);

      // Redis goes away: every answer still 200 and the same, from the store.
      await stopRedis(server);
      for (const [i, p] of paths.entries()) {
        const res = await t.get(p, "org-a");
        expect(res.status).toBe(200);
        expect(res.headers.get("x-cache")).toBe("MISS");
        expect(await res.text()).toBe(before[i]);
      }
      const ready = (await (await t.app.request("/readyz")).json()) as { status: string };
      expect(ready.status).toBe("degraded");
      expect(await (await t.app.request("/metrics")).text()).toMatch(/tokenmeter_query_cache_errors_total\{op="get"\} [1-9]/);

      // Redis back: the cache fills again.
      server = startRedis(port);
      expect(await cache.ready(10_000)).toBe(true);
      await t.get(paths[0] as string, "org-a");
      expect((await t.get(paths[0] as string, "org-a")).headers.get("x-cache")).toBe("HIT");
    } finally {
      await cache.close();
      await stopRedis(server);
    }
  });
});

async function freePort(): Promise<number> {
  return await new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function startRedis(port: number): ChildProcess {
  return spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
}

async function stopRedis(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    p.once("exit", () => resolve());
    p.kill("SIGKILL");
  });
}
