import { reportedOrUnpriced } from "@tokenmeter/core";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { createBatchWriter } from "./batch-writer.js";
import { counts, dropStores, events, freshStore, idle, logger, metric, wrapInserts } from "./testing.js";

afterEach(dropStores);

describe("duplicates", () => {
  it("counts a repeated event_id once within a flush, across flushes and across writers", async () => {
    const store = await freshStore();
    const registry = new Registry();
    const w = createBatchWriter({ store, logger, registry, pricer: reportedOrUnpriced, policy: idle });
    const batch = events(10);
    const a = w.write([...batch, batch[0]!, batch[1]!]);
    const b = w.write(batch.slice(0, 3));
    await w.flush();
    await expect(a).resolves.toEqual({ accepted: 10, duplicates: 2 });
    await expect(b).resolves.toEqual({ accepted: 0, duplicates: 3 });
    // Next flush: already stored.
    const c = w.write([...batch.slice(5), ...events(2)]);
    await w.flush();
    await expect(c).resolves.toEqual({ accepted: 2, duplicates: 5 });
    // Another writer (another process) on the same tables.
    const other = createBatchWriter({ store, logger, pricer: reportedOrUnpriced, policy: idle });
    const d = other.write(batch);
    await other.flush();
    await expect(d).resolves.toEqual({ accepted: 0, duplicates: 10 });
    expect(await counts(store)).toEqual({ raw: 12, daily: 12, hourly: 12 });
    expect(await metric(registry, "tokenmeter_writer_duplicates_dropped_total")).toBe(10);
    await Promise.all([w.close(), other.close()]);
  });

  it("drops a repeat of the batch being inserted while the next batch is checked (pipelined check)", async () => {
    const inner = await freshStore();
    // A slow insert, so the next batch's stored-id check runs while it is in flight.
    const store = wrapInserts(inner, (_, insert) => async (t, r, o) => {
      await new Promise((res) => setTimeout(res, 30));
      return insert(t, r, o);
    });
    const w = createBatchWriter({ store, logger, pricer: reportedOrUnpriced, policy: { ...idle, maxRows: 10 } });
    const [a, b, c] = [events(10), events(10), events(10)];
    const results = await Promise.all([a, a, b, b, c, c].map((batch) => w.write(batch)));
    expect(results).toEqual([
      { accepted: 10, duplicates: 0 },
      { accepted: 0, duplicates: 10 },
      { accepted: 10, duplicates: 0 },
      { accepted: 0, duplicates: 10 },
      { accepted: 10, duplicates: 0 },
      { accepted: 0, duplicates: 10 },
    ]);
    expect(store.tokens).toHaveLength(3);
    expect(await counts(inner)).toEqual({ raw: 30, daily: 30, hourly: 30 });
    await w.close();
  });

  it("treats the same event_id of two orgs as two events", async () => {
    const store = await freshStore();
    const w = createBatchWriter({ store, logger, pricer: reportedOrUnpriced, policy: idle });
    const [e] = events(1);
    const done = w.write([e!, { ...e!, org_id: "globex" }]);
    await w.flush();
    await expect(done).resolves.toEqual({ accepted: 2, duplicates: 0 });
    await w.close();
  });

  it("finds a re-sent event whose event_time moved by less than a day", async () => {
    const store = await freshStore();
    const w = createBatchWriter({ store, logger, pricer: reportedOrUnpriced, policy: idle });
    const [e] = events(1);
    const first = w.write([e!]);
    await w.flush();
    await first;
    const again = w.write([{ ...e!, event_time_ms: e!.event_time_ms + 23 * 3600 * 1000 }]);
    await w.flush();
    await expect(again).resolves.toEqual({ accepted: 0, duplicates: 1 });
    await w.close();
  });

  it("with a window of 0, still drops a same-payload re-send but not a re-stamped one", async () => {
    const store = await freshStore();
    const w = createBatchWriter({ store, logger, pricer: reportedOrUnpriced, policy: idle, dedupWindowMs: 0 });
    const [e] = events(1);
    const first = w.write([e!]);
    await w.flush();
    await first;
    const again = w.write([e!, ...events(3)]);
    await w.flush();
    await expect(again).resolves.toEqual({ accepted: 3, duplicates: 1 });
    const restamped = w.write([{ ...e!, event_time_ms: e!.event_time_ms + 3_600_000 }]);
    await w.flush();
    await expect(restamped).resolves.toEqual({ accepted: 1, duplicates: 0 });
    await w.close();
  });
});
