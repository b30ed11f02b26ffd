import { reportedOrUnpriced } from "@tokenmeter/core";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { createBatchWriter, WriterClosedError } from "./batch-writer.js";
import { counts, dropStores, events, freshStore, idle, logger, metric, T, wrapInserts } from "./testing.js";

afterEach(dropStores);

describe("flush triggers", () => {
  it("flushes when maxRows rows are buffered", async () => {
    const store = await freshStore();
    const registry = new Registry();
    const w = createBatchWriter({ store, logger, registry, pricer: reportedOrUnpriced, policy: { ...idle, maxRows: 10 } });
    // 25 rows in one write span three batches; the last 5 need the explicit flush.
    const pending = w.write(events(25));
    await expect(w.write(events(5))).resolves.toEqual({ accepted: 5, duplicates: 0 });
    expect(await metric(registry, "tokenmeter_writer_flushes_total", { reason: "rows" })).toBe(3);
    await w.flush();
    await expect(pending).resolves.toEqual({ accepted: 25, duplicates: 0 });
    expect(await counts(store)).toEqual({ raw: 30, daily: 30, hourly: 30 });
    expect(await metric(registry, "tokenmeter_writer_flushes_total", { reason: "manual" })).toBe(0);
    await w.close();
  });

  it("flushes when maxBytes is reached, each insert within maxBytes", async () => {
    const store = wrapInserts(await freshStore(), (_, insert) => insert);
    const registry = new Registry();
    const w = createBatchWriter({ store, logger, registry, pricer: reportedOrUnpriced, policy: { ...idle, maxBytes: 1_100 } });
    const writes = events(12).map((e) => w.write([e]));
    // No row or time trigger can fire: the first write resolves only through the bytes trigger.
    await expect(writes[0]).resolves.toEqual({ accepted: 1, duplicates: 0 });
    expect(await metric(registry, "tokenmeter_writer_flushes_total", { reason: "bytes" })).toBeGreaterThanOrEqual(1);
    await w.close();
    expect(await Promise.all(writes)).toEqual(Array(12).fill({ accepted: 1, duplicates: 0 }));
    expect(store.sizes.length).toBeGreaterThanOrEqual(4);
    for (const size of store.sizes) expect(size).toBeLessThanOrEqual(1_100);
    expect((await counts(store)).raw).toBe(12);
  });

  it("flushes after maxDelayMs without any explicit flush", async () => {
    const store = await freshStore();
    const registry = new Registry();
    const w = createBatchWriter({ store, logger, registry, pricer: reportedOrUnpriced, policy: { ...idle, maxDelayMs: 20 } });
    await expect(w.write(events(3))).resolves.toEqual({ accepted: 3, duplicates: 0 });
    expect(await metric(registry, "tokenmeter_writer_flushes_total", { reason: "time" })).toBe(1);
    expect(await metric(registry, "tokenmeter_writer_last_event_time_seconds")).toBe(T / 1000);
    await w.close();
  });

  it("flushes once arrivals pause with enough rows waiting (idle trigger)", async () => {
    const store = await freshStore();
    const registry = new Registry();
    const policy = { ...idle, idleMs: 10, idleMinRows: 5 };
    const w = createBatchWriter({ store, logger, registry, pricer: reportedOrUnpriced, policy });
    // Three writers, as closed-loop clients: the flush comes after they pause, not after maxDelayMs (10 min).
    const results = await Promise.all([w.write(events(2)), w.write(events(2)), w.write(events(2))]);
    expect(results).toEqual(Array(3).fill({ accepted: 2, duplicates: 0 }));
    expect(await metric(registry, "tokenmeter_writer_flushes_total", { reason: "idle" })).toBe(1);
    await w.close();
  });
});

describe("backpressure and shutdown", () => {
  it("makes callers wait while buffered bytes are over the bound", async () => {
    const inner = await freshStore();
    const registry = new Registry();
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const store = wrapInserts(inner, (_, insert) => async (t, r, o) => {
      await gate;
      return insert(t, r, o);
    });
    const rowBytes = 700;
    const policy = { ...idle, maxBytes: 5 * rowBytes, maxBufferedBytes: 10 * rowBytes };
    const w = createBatchWriter({ store, logger, registry, pricer: reportedOrUnpriced, policy });
    let admitted = 0;
    const writes = Array.from({ length: 30 }, () => w.write(events(1)).then((r) => (admitted += r.accepted)));
    // Let the writer run as far as it can while the store is stuck in the first insert.
    for (let i = 0; i < 2_000 && store.tokens.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    expect(store.tokens).toHaveLength(1);
    expect(admitted).toBe(0);
    // 30 rows would be ~17 kB: most callers are waiting, not buffered.
    const buffered = await metric(registry, "tokenmeter_writer_buffered_bytes");
    expect(buffered).toBeGreaterThan(policy.maxBytes);
    expect(buffered).toBeLessThanOrEqual(policy.maxBufferedBytes);
    open();
    await w.close();
    await Promise.all(writes);
    expect(admitted).toBe(30);
    expect((await counts(inner)).raw).toBe(30);
    expect(await metric(registry, "tokenmeter_writer_buffered_bytes")).toBe(0);
  });

  it("close() flushes what is buffered, then refuses writes", async () => {
    const store = await freshStore();
    const w = createBatchWriter({ store, logger, pricer: reportedOrUnpriced, policy: idle });
    const pending = w.write(events(7));
    await w.close();
    await expect(pending).resolves.toEqual({ accepted: 7, duplicates: 0 });
    expect((await counts(store)).raw).toBe(7);
    await expect(w.write(events(1))).rejects.toBeInstanceOf(WriterClosedError);
    await w.close();
  });
});
