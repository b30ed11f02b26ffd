import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { type HoldLine, MemoryReservations, RedisReservations, type Reservations } from "./reservations.js";

// One conformance suite for both implementations, on real Redis.
const REDIS_URL = process.env.TOKENMETER_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const redis = new Redis(REDIS_URL);
afterAll(() => redis.disconnect());

const line = (over: Partial<HoldLine> = {}): HoldLine => ({ key: "b1:", spent: 0, limit: 10, hard: true, estimate: 1, ...over });

const impls: [string, () => Reservations][] = [
  ["memory", () => new MemoryReservations()],
  ["redis", () => new RedisReservations(redis, `test-${randomUUID()}`)],
];

for (const [name, make] of impls) {
  describe(`${name} reservations`, () => {
    it("50 concurrent holds against room for 10 let exactly 10 through", async () => {
      const r = make();
      const now = Date.now();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          r.hold({ org_id: "o", lines: [line({ spent: 2, limit: 12 })], reservation: { id: `k${i}`, ttlMs: 60_000 }, now }),
        ),
      );
      expect(results.filter((x) => x.allowed && x.reserved)).toHaveLength(10);
      // A plain check (no key) sees the 10 holds: the budget is full.
      expect((await r.hold({ org_id: "o", lines: [line({ spent: 2, limit: 12, estimate: 0 })], now })).held).toEqual([10]);
    });

    it("the same key refreshes its hold instead of counting twice; release and expiry free the room", async () => {
      const r = make();
      const now = Date.now();
      const hold = (id: string, at = now) =>
        r.hold({ org_id: "o", lines: [line({ limit: 2 })], reservation: { id, ttlMs: 1_000 }, now: at });
      expect((await hold("a")).allowed).toBe(true);
      expect((await hold("a")).held).toEqual([0]);
      expect((await hold("b")).allowed).toBe(true);
      expect((await hold("c")).allowed).toBe(false);
      expect(await r.release("o", "a")).toBe(true);
      expect(await r.release("o", "a")).toBe(false);
      expect((await hold("c")).allowed).toBe(true);
      // Both holds expired a second later.
      expect((await hold("d", now + 1_001)).held).toEqual([0]);
    });

    it("pending lists the org's live UUID-keyed holds only, bounded", async () => {
      const r = make();
      const now = Date.now();
      const hold = (org: string, id: string, ttlMs = 60_000) =>
        r.hold({ org_id: org, lines: [line({ limit: 100 })], reservation: { id, ttlMs }, now });
      const [a, b, c, gone, freed, other] = Array.from({ length: 6 }, () => randomUUID());
      for (const id of [a, b, c] as string[]) await hold("o", id);
      await hold("o", "call-7");
      await hold("o", gone as string, 1_000);
      await hold("o", freed as string);
      await hold("p", other as string);
      await r.release("o", freed as string);
      const live = await r.pending("o", now + 1_500, 10);
      expect(live.sort()).toEqual([a, b, c].sort());
      expect(await r.pending("o", now + 1_500, 2)).toHaveLength(2);
      expect(await r.pending("p", now, 10)).toEqual([other]);
    });

    it("soft lines never refuse; orgs do not share lines", async () => {
      const r = make();
      const now = Date.now();
      expect((await r.hold({ org_id: "o", lines: [line({ hard: false, spent: 50 })], now })).allowed).toBe(true);
      await r.hold({ org_id: "o", lines: [line({ limit: 1 })], reservation: { id: "x", ttlMs: 60_000 }, now });
      expect((await r.hold({ org_id: "p", lines: [line({ limit: 1 })], now })).held).toEqual([0]);
    });
  });
}

describe("redis reservations", () => {
  it("a short hold does not shorten the life of a longer one on the same line", async () => {
    const prefix = `test-${randomUUID()}`;
    const r = new RedisReservations(redis, prefix);
    const now = Date.now();
    await r.hold({ org_id: "o", lines: [line()], reservation: { id: "long", ttlMs: 3_600_000 }, now });
    await r.hold({ org_id: "o", lines: [line()], reservation: { id: "short", ttlMs: 1_000 }, now });
    for (const suffix of ["exp", "amt"]) expect(await redis.pttl(`${prefix}:budget-hold:{o}:b1::${suffix}`)).toBeGreaterThan(3_600_000);
  });
});
