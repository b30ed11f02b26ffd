import { randomUUID } from "node:crypto";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import { makeBudgetApp } from "../testing/budget-app.js";
import { testEvent } from "../testing/events.js";
import { insertEvents } from "../testing/fixture.js";
import { MemoryReservations, RedisReservations, type Reservations } from "./reservations.js";

// Settlement on the real engine and real Redis: a hold keyed by a UUID is dropped by
// the refresh that counts the event carrying that id, never before it.
const REDIS_URL = process.env.TOKENMETER_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
let store: ChdbStore;
const redis = new Redis(REDIS_URL);
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  redis.disconnect();
  await dropTestStore(store);
});

type Check = { allowed: boolean; budgets: { spent: number; held: number }[] };

const impls: [string, () => Reservations][] = [
  ["memory", () => new MemoryReservations()],
  ["redis", () => new RedisReservations(redis, `test-${randomUUID()}`)],
];

for (const [name, make] of impls) {
  describe(`settlement (${name} reservations)`, () => {
    it("the event whose id is the key settles its hold at the refresh that counts it; an unrelated event leaves a hold", async () => {
      const org = `org-settle-${name}`;
      const inner = make();
      // The real reservations, observed: what the snapshot counted when a hold was released.
      const released: { key: string; spent: number | undefined }[] = [];
      let budgetId = "";
      const t = makeBudgetApp({
        store,
        now: Date.now,
        refreshMs: 3_600_000, // the test drives each refresh itself
        reservations: {
          hold: (req) => inner.hold(req),
          pending: (o, now, limit) => inner.pending(o, now, limit),
          async release(o, id) {
            released.push({ key: id, spent: (await t.runtime.snapshot.get(o)).spent.get(budgetId)?.total });
            return await inner.release(o, id);
          },
        },
      });
      budgetId = (
        await t.json<{ id: string }>("POST", "/v1/budgets", org, {
          name: "cap",
          metric: "cost_usd",
          limit: 10,
          window: { period: "month", tz: "UTC" },
          enforcement: "hard",
        })
      ).id;
      const settled = randomUUID();
      const other = randomUUID();
      const byName = randomUUID().toUpperCase(); // a key in upper case still matches the stored (lower-case) id
      const reserve = (key: string, estimate: number) =>
        t.json<Check & { reservation?: unknown }>("POST", "/v1/budgets/check", org, { estimate, idempotency_key: key });
      expect((await reserve(settled, 1)).reservation).toBeDefined();
      expect((await reserve(other, 0.5)).reservation).toBeDefined();
      expect((await reserve(byName, 2)).reservation).toBeDefined();
      expect((await reserve("not-a-uuid", 0.125)).reservation).toBeDefined();
      const view = async () => (await t.json<Check>("POST", "/v1/budgets/check", org, {})).budgets[0];
      expect(await view()).toMatchObject({ spent: 0, held: 3.625 });

      // The calls' events: two carry held keys, one an id nobody holds.
      const now = Date.now();
      await insertEvents(store, [
        testEvent(org, now - 2_000, { event_id: settled }),
        testEvent(org, now - 1_000, { event_id: byName.toLowerCase(), cost_usd: 1.5, cost: 1.5 }),
        testEvent(org, now - 500, { event_id: randomUUID(), cost_usd: 0.5, cost: 0.5 }),
      ]);
      // Before a refresh: nothing counted, everything still held (no under-count).
      expect(await view()).toMatchObject({ spent: 0, held: 3.625 });

      await t.runtime.snapshot.refreshAll();
      // Each hold was released only once the snapshot counted its event (2.25 = all three events).
      expect(released.map((r) => r.key).sort()).toEqual([settled, byName].sort());
      expect(released.every((r) => r.spent === 2.25)).toBe(true);
      // Counted once, and the unrelated holds remain.
      expect(await view()).toMatchObject({ spent: 2.25, held: 0.625 });
      const status = await t.json<{ spent: number }>("GET", `/v1/budgets/${budgetId}/status`, org);
      expect(status.spent).toBe(2.25);

      // A later refresh neither counts the events again nor touches the other holds.
      await t.runtime.snapshot.refreshAll();
      expect(await view()).toMatchObject({ spent: 2.25, held: 0.625 });
      expect(released).toHaveLength(2);
      expect((await t.call("DELETE", `/v1/budgets/reservations/${settled}`, org)).status).toBe(404);
      expect((await t.call("DELETE", `/v1/budgets/reservations/${other}`, org)).status).toBe(204);
      expect((await t.call("DELETE", "/v1/budgets/reservations/not-a-uuid", org)).status).toBe(204);
      t.stop();
    });
  });
}
