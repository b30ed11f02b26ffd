import { randomUUID } from "node:crypto";
import type { Store } from "@tokenmeter/clickhouse";
import { toClickHouseTime, type UsageRow } from "@tokenmeter/core";
import { describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import { DEDUP_WINDOW_MS, eventKey, MAX_EXACT_IDS } from "../dedup/stored-ids.js";
import { createStoredLookup, type StagedEvent, selectEvents } from "./plan-insert.js";

const t = Date.parse("2026-06-01T12:00:00Z");
const row = (event_id: string, org_id: string, ms: number, source: string) =>
  ({ event_id, org_id, event_time: toClickHouseTime(ms), provider: "openai", model: "m", source }) as UsageRow;
/** What the lookup is asked for an event. */
const ref = (event_id: string, org_id: string, ms: number) => ({ event_id, org_id, timeMs: ms });

const staged = (event_id: string, partition: number, offset: string): StagedEvent => ({
  org_id: "acme",
  event_id,
  timeMs: t,
  partition,
  offset,
  bytes: 2,
  chunk: Buffer.from("x\n"),
  start: 0,
  end: 2,
});

describe("stored-copy lookup shared by concurrent batches", () => {
  it("runs lookups asked for while one runs as one query, each range seeing only its own window and orgs", async () => {
    const inner = await openTestStore();
    let queries = 0;
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop !== "query") return Reflect.get(target, prop, receiver);
        return (...args: Parameters<Store["query"]>) => {
          queries++;
          return target.query(...args);
        };
      },
    });
    try {
      const [a, old, g] = [randomUUID(), randomUUID(), randomUUID()];
      await inner.insert("llm_usage", [
        row(a, "acme", t, "kafka:x:0:1"),
        row(old, "acme", t - 3 * DEDUP_WINDOW_MS, "kafka:x:0:2"),
        row(g, "globex", t, "kafka:x:1:1"),
      ]);
      const lookup = createStoredLookup(store);
      const [first, near, far, other] = await Promise.all([
        lookup.find([ref(randomUUID(), "acme", t)]),
        // Asks for `old` and `g` too, but neither is inside its window / org.
        lookup.find([ref(a, "acme", t), ref(old, "acme", t), ref(g, "acme", t)]),
        lookup.find([ref(old, "acme", t - 3 * DEDUP_WINDOW_MS + 60_000)]),
        lookup.find([ref(g, "globex", t + DEDUP_WINDOW_MS)]),
      ]);
      expect(queries).toBe(2);
      expect(first).toEqual(new Map());
      expect(near).toEqual(new Map([[eventKey("acme", a), new Set(["kafka:x:0:1"])]]));
      expect(far).toEqual(new Map([[eventKey("acme", old), new Set(["kafka:x:0:2"])]]));
      expect(other).toEqual(new Map([[eventKey("globex", g), new Set(["kafka:x:1:1"])]]));

      // selectEvents: repeats in the plan and copies from other messages drop; the plan's own copy stays on a redo.
      const b = randomUUID();
      const events = [staged(a, 0, "1"), staged(b, 0, "3"), staged(b, 1, "4")];
      const redo = await selectEvents(lookup, "x", events, { keepOwn: true });
      expect(redo.events.map((e) => `${e.partition}:${e.offset}`)).toEqual(["0:1", "0:3"]);
      const fresh = await selectEvents(lookup, "x", events, { keepOwn: false });
      expect(fresh).toEqual({ events: [events[1]], duplicates: 2 });

      // A batch past MAX_EXACT_IDS (the top-bits form) finds the same copies.
      const big = [...Array.from({ length: MAX_EXACT_IDS }, () => ref(randomUUID(), "acme", t)), ref(a.toUpperCase(), "acme", t)];
      expect(await lookup.find(big)).toEqual(new Map([[eventKey("acme", a), new Set(["kafka:x:0:1"])]]));

      // A window of 0: the range's own time range only (a re-stamped re-send is not found).
      const narrow = createStoredLookup(store, 0);
      expect(await narrow.find([ref(a, "acme", t)])).toEqual(new Map([[eventKey("acme", a), new Set(["kafka:x:0:1"])]]));
      expect(await narrow.find([ref(a, "acme", t + 60_000)])).toEqual(new Map());
    } finally {
      await dropTestStore(inner);
    }
  });

  it("fails every range of a failed query, and the next lookups run again", async () => {
    const inner = await openTestStore();
    let fail = true;
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === "query") {
          return (...args: Parameters<Store["query"]>) => (fail ? Promise.reject(new Error("boom")) : target.query(...args));
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    try {
      const lookup = createStoredLookup(store);
      const results = await Promise.allSettled([lookup.find([ref(randomUUID(), "acme", t)]), lookup.find([ref(randomUUID(), "acme", t)])]);
      expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
      fail = false;
      expect(await lookup.find([ref(randomUUID(), "acme", t)])).toEqual(new Map());
    } finally {
      await dropTestStore(inner);
    }
  });
});
