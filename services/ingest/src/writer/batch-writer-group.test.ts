import { randomUUID } from "node:crypto";
import type { Store } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced, type UsageEvent, validateEvent } from "@tokenmeter/core";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import { createBatchWriter } from "./batch-writer.js";

const T = Date.parse("2026-06-01T12:00:00Z");
const logger = pino({ level: "silent" });
/** The time trigger never fires within a test: any flush here is group commit. */
const policy = { maxDelayMs: 600_000 };
const stores: Store[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await dropTestStore(s);
});

function events(n: number): UsageEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const r = validateEvent(
      {
        event_id: randomUUID(),
        event_time: new Date(T - i * 1_000).toISOString(),
        org_id: "acme",
        provider: "openai",
        model: "gpt-4o",
        input_tokens: 100,
        output_tokens: 10,
        status_code: 200,
      },
      { now: T },
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.event;
  });
}

/** The real store, whose first insert waits for `release()`; records each insert's row count. */
function gatedStore(inner: Store) {
  let open: () => void = () => {};
  const gate = new Promise<void>((r) => {
    open = r;
  });
  let started: () => void = () => {};
  const firstStarted = new Promise<void>((r) => {
    started = r;
  });
  const rows: number[] = [];
  const store: Store = {
    database: inner.database,
    query: (sql, params, opts) => inner.query(sql, params, opts),
    command: (sql, params, opts) => inner.command(sql, params, opts),
    close: () => inner.close(),
    insert: async (table, payload, opts) => {
      // TSV after a header line of column names.
      rows.push(payload.toString().split("\n").filter(Boolean).length - 1);
      if (rows.length === 1) {
        started();
        await gate;
      }
      return inner.insert(table, payload, opts);
    },
  };
  return { store, rows, firstStarted, release: () => open() };
}

async function flushes(registry: Registry, reason: string): Promise<number> {
  const m = await registry.getSingleMetric("tokenmeter_writer_flushes_total")?.get();
  return m?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe("group commit", () => {
  it("acks a write to an idle writer without waiting out maxDelayMs", async () => {
    const inner = await openTestStore();
    stores.push(inner);
    const registry = new Registry();
    const w = createBatchWriter({ store: inner, logger, registry, pricer: reportedOrUnpriced, policy });
    await expect(w.write(events(3))).resolves.toEqual({ accepted: 3, duplicates: 0 });
    expect(await flushes(registry, "idle")).toBe(1);
    expect(await flushes(registry, "time")).toBe(0);
    await w.close();
  });

  it("accumulates while an insert is in flight and inserts it all at once when that one completes", async () => {
    const inner = await openTestStore();
    stores.push(inner);
    const g = gatedStore(inner);
    const registry = new Registry();
    const w = createBatchWriter({ store: g.store, logger, registry, pricer: reportedOrUnpriced, policy });
    const first = w.write(events(3));
    await g.firstStarted;
    const later = [w.write(events(2)), w.write(events(2)), w.write(events(2))];
    // Well past the coalescing window: still no second insert while the first is in flight.
    await new Promise((r) => setTimeout(r, 50));
    expect(g.rows).toEqual([3]);
    g.release();
    await expect(first).resolves.toEqual({ accepted: 3, duplicates: 0 });
    expect(await Promise.all(later)).toEqual(Array(3).fill({ accepted: 2, duplicates: 0 }));
    expect(g.rows).toEqual([3, 6]);
    expect(await flushes(registry, "idle")).toBe(2);
    const [stored] = await inner.query<{ n: number }>("SELECT count() AS n FROM llm_usage");
    expect(Number(stored?.n)).toBe(9);
    await w.close();
  });
});
