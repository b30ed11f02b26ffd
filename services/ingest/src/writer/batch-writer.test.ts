import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type StatementOptions, type Store, StoreError } from "@tokenmeter/clickhouse";
import { type BatchPolicy, reportedOrUnpriced, type UsageEvent, validateEvent } from "@tokenmeter/core";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import { dedupToken, eventKey } from "../dedup/stored-ids.js";
import { createBatchWriter, WriterClosedError } from "./batch-writer.js";
import { fileFlushJournal } from "./flush-journal.js";

const T = Date.parse("2026-06-01T12:00:00Z");
const logger = pino({ level: "silent" });
/** Large enough that only the trigger under test fires. */
const idle: Partial<BatchPolicy> = { maxRows: 1_000_000, maxBytes: 64 * 1024 * 1024, maxDelayMs: 600_000, idleMs: 0 };
const stores: Store[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await dropTestStore(s);
});

async function freshStore(): Promise<Store> {
  const s = await openTestStore();
  stores.push(s);
  return s;
}

function events(n: number, extra: Record<string, unknown> = {}): UsageEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const raw = {
      event_id: randomUUID(),
      event_time: new Date(T - i * 1_000).toISOString(),
      org_id: "acme",
      provider: "openai",
      model: "gpt-4o",
      input_tokens: 100,
      output_tokens: 10,
      duration_ms: 100 + i,
      status_code: 200,
      ...extra,
    };
    const r = validateEvent(raw, { now: T });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.event;
  });
}

async function counts(store: Store) {
  const [raw] = await store.query<{ n: number }>("SELECT count() AS n FROM llm_usage");
  const [daily] = await store.query<{ n: number }>("SELECT sum(requests) AS n FROM llm_usage_daily");
  const [hourly] = await store.query<{ n: number }>("SELECT sum(requests) AS n FROM llm_usage_hourly");
  return { raw: Number(raw?.n), daily: Number(daily?.n), hourly: Number(hourly?.n) };
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .filter((v) => !("metricName" in v) || v.metricName === name || v.metricName === `${name}_count`)
    .reduce((n, v) => n + v.value, 0);
}

type InsertHook = (table: string, rows: readonly object[] | Buffer | string, opts?: StatementOptions) => Promise<void>;

/** A Store that runs `hook` around each insert of the real one: failure injection without mocks. */
function wrapInserts(inner: Store, hook: (n: number, insert: InsertHook) => InsertHook): Store & { tokens: string[]; sizes: number[] } {
  let n = 0;
  const tokens: string[] = [];
  const sizes: number[] = [];
  const real: InsertHook = (t, r, o) => inner.insert(t, r, o);
  return {
    database: inner.database,
    tokens,
    sizes,
    query: (sql, params, opts) => inner.query(sql, params, opts),
    command: (sql, params, opts) => inner.command(sql, params, opts),
    close: () => inner.close(),
    insert: (table, rows, opts) => {
      tokens.push(String(opts?.settings?.insert_deduplication_token));
      sizes.push(typeof rows === "string" || Buffer.isBuffer(rows) ? rows.length : -1);
      return hook(++n, real)(table, rows, opts);
    },
  };
}

const injected = (retryable: boolean) => new StoreError(retryable ? "timeout" : "bad_request", "injected failure", retryable);

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
    const w = createBatchWriter({ store, logger, registry, pricer: reportedOrUnpriced, policy: { ...idle, maxBytes: 2_000 } });
    const writes = events(12).map((e) => w.write([e]));
    // No row or time trigger can fire: the first write resolves only through the bytes trigger.
    await expect(writes[0]).resolves.toEqual({ accepted: 1, duplicates: 0 });
    expect(await metric(registry, "tokenmeter_writer_flushes_total", { reason: "bytes" })).toBeGreaterThanOrEqual(1);
    await w.close();
    expect(await Promise.all(writes)).toEqual(Array(12).fill({ accepted: 1, duplicates: 0 }));
    expect(store.sizes.length).toBeGreaterThanOrEqual(4);
    for (const size of store.sizes) expect(size).toBeLessThanOrEqual(2_000);
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

describe("exactly-once effect", () => {
  it("derives the dedup token from the flushed event keys, the same for the same batch", async () => {
    const batch = events(5);
    const tokens: string[][] = [];
    for (let i = 0; i < 2; i++) {
      const store = wrapInserts(await freshStore(), (_, insert) => insert);
      const w = createBatchWriter({ store, logger, pricer: reportedOrUnpriced, policy: idle });
      const done = w.write(batch);
      await w.flush();
      await done;
      tokens.push(store.tokens);
    }
    expect(tokens[0]).toEqual([dedupToken(batch.map((e) => eventKey(e.org_id, e.event_id)))]);
    expect(tokens[1]).toEqual(tokens[0]);
    expect(dedupToken(["a", "b"])).not.toBe(dedupToken(["b", "a"]));
  });

  it("lands once when an insert succeeded but reported a failure, and is retried", async () => {
    const inner = await freshStore();
    const registry = new Registry();
    // Attempt 1 stores the rows, then times out: the retry carries the same token.
    const store = wrapInserts(inner, (n, insert) => async (t, r, o) => {
      await insert(t, r, o);
      if (n === 1) throw injected(true);
    });
    const w = createBatchWriter({ store, logger, registry, pricer: reportedOrUnpriced, policy: { ...idle, retryMinMs: 1, retryMaxMs: 2 } });
    const done = w.write(events(50));
    await w.flush();
    await expect(done).resolves.toEqual({ accepted: 50, duplicates: 0 });
    expect(store.tokens).toHaveLength(2);
    expect(store.tokens[1]).toBe(store.tokens[0]);
    expect(await counts(inner)).toEqual({ raw: 50, daily: 50, hourly: 50 });
    expect(await metric(registry, "tokenmeter_writer_store_retries_total", { op: "insert" })).toBe(1);
    await w.close();
  });

  it("retries failed inserts with backoff and stores the batch once", async () => {
    const inner = await freshStore();
    const store = wrapInserts(inner, (n, insert) => (n <= 2 ? async () => Promise.reject(injected(true)) : insert));
    const w = createBatchWriter({ store, logger, pricer: reportedOrUnpriced, policy: { ...idle, retryMinMs: 1, retryMaxMs: 4 } });
    const done = w.write(events(10));
    await w.flush();
    await expect(done).resolves.toEqual({ accepted: 10, duplicates: 0 });
    expect(new Set(store.tokens).size).toBe(1);
    expect(await counts(inner)).toEqual({ raw: 10, daily: 10, hourly: 10 });
    await w.close();
  });

  it("rejects the callers on a non-retryable error or exhausted retries, and keeps working", async () => {
    const inner = await freshStore();
    const registry = new Registry();
    const store = wrapInserts(inner, (n, insert) => {
      if (n === 1) return async () => Promise.reject(injected(false));
      if (n === 2 || n === 3) return async () => Promise.reject(injected(true));
      return insert;
    });
    const policy = { ...idle, maxAttempts: 2, retryMinMs: 1, retryMaxMs: 2 };
    const w = createBatchWriter({ store, logger, registry, pricer: reportedOrUnpriced, policy });
    const first = w.write(events(3));
    await expect(w.flush()).rejects.toThrow("injected failure");
    await expect(first).rejects.toMatchObject({ code: "bad_request", retryable: false });
    const secondEvents = events(3);
    const second = w.write(secondEvents);
    await expect(w.flush()).rejects.toThrow("injected failure");
    await expect(second).rejects.toMatchObject({ code: "timeout" });
    expect(store.tokens).toHaveLength(3);
    expect((await counts(inner)).raw).toBe(0);
    expect(await metric(registry, "tokenmeter_writer_flush_failures_total")).toBe(2);
    // The next flush first redoes the exhausted batch (it may have landed in part), under its token.
    const third = w.write(events(4));
    await w.flush();
    await expect(third).resolves.toEqual({ accepted: 4, duplicates: 0 });
    expect(store.tokens[3]).toBe(store.tokens[2]);
    expect(await counts(inner)).toEqual({ raw: 7, daily: 7, hourly: 7 });
    // The rejected caller retries: its events are there already, counted once.
    const retried = w.write(secondEvents);
    await w.flush();
    await expect(retried).resolves.toEqual({ accepted: 0, duplicates: 3 });
    await w.close();
  });

  it("holds one failed flush while storage is down and redoes it first once it is back", async () => {
    const inner = await freshStore();
    let healthy = false;
    const store = wrapInserts(inner, (_, insert) => async (t, r, o) => {
      if (!healthy) throw injected(true);
      return insert(t, r, o);
    });
    const w = createBatchWriter({ store, logger, pricer: reportedOrUnpriced, policy: { ...idle, maxRows: 1, maxAttempts: 1 } });
    const sent = events(6);
    // The first flush's insert may have run: held. The next ones fail at its redo, before inserting: not held.
    for (const e of sent.slice(0, 5)) await expect(w.write([e])).rejects.toMatchObject({ code: "timeout" });
    expect(new Set(store.tokens.slice(1))).toEqual(new Set([store.tokens[0]]));
    healthy = true;
    await expect(w.write([sent[5]!])).resolves.toEqual({ accepted: 1, duplicates: 0 });
    expect(store.tokens.slice(-2)).toEqual([store.tokens[0], dedupToken([eventKey(sent[5]!.org_id, sent[5]!.event_id)])]);
    expect(await counts(inner)).toEqual({ raw: 2, daily: 2, hourly: 2 });
    await w.close();
  });

  it("completes the rollups of a flush cut off after its raw part, redone from the journal after a restart", async () => {
    const inner = await freshStore();
    const dir = await mkdtemp(join(tmpdir(), "tm-journal-"));
    try {
      // The raw (and hourly) parts land, the daily MV never runs, and the process dies mid-insert:
      // the insert never returns, so the journal entry is never forgotten.
      let cutOff!: () => void;
      const died = new Promise<void>((r) => {
        cutOff = r;
      });
      const dying = wrapInserts(inner, (_, insert) => async (t, r, o) => {
        await inner.command("DETACH TABLE llm_usage_daily_mv");
        await insert(t, r, o).finally(() => inner.command("ATTACH TABLE llm_usage_daily_mv"));
        cutOff();
        await new Promise(() => {});
      });
      const batch = events(20);
      const first = createBatchWriter({
        store: dying,
        logger,
        pricer: reportedOrUnpriced,
        policy: idle,
        journal: await fileFlushJournal(dir),
      });
      void first.write(batch);
      void first.flush();
      await died;
      expect(await counts(inner)).toEqual({ raw: 20, daily: 0, hourly: 20 });
      expect(await readdir(dir)).toHaveLength(1);
      // The restarted process redoes it before taking writes: raw and hourly are no-ops, daily is filled.
      const journal = await fileFlushJournal(dir);
      const restarted = createBatchWriter({ store: inner, logger, pricer: reportedOrUnpriced, policy: idle, journal });
      expect(await restarted.recover()).toBe(1);
      expect(await counts(inner)).toEqual({ raw: 20, daily: 20, hourly: 20 });
      expect(await readdir(dir)).toEqual([]);
      // The client never got its answer and retries: a duplicate.
      const retry = restarted.write(batch);
      await restarted.flush();
      await expect(retry).resolves.toEqual({ accepted: 0, duplicates: 20 });
      await restarted.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

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
