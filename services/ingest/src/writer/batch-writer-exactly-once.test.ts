import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { reportedOrUnpriced, toUsageRow } from "@tokenmeter/core";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { dedupToken, eventKey } from "../dedup/stored-ids.js";
import { createBatchWriter } from "./batch-writer.js";
import { fileFlushJournal } from "./flush-journal.js";
import { counts, dropStores, events, freshStore, idle, injected, logger, metric, wrapInserts } from "./testing.js";

afterEach(dropStores);

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

  it("redoes a JSONEachRow flush journaled by the version before TSV payloads, as it was written, under its token", async () => {
    const inner = await freshStore();
    const dir = await mkdtemp(join(tmpdir(), "tm-journal-"));
    try {
      // What that version journaled: one JSON row per line, token from the event keys (unchanged since).
      const batch = events(7).map((e, i) => ({ ...e, org_id: i % 2 === 0 ? "org\twith-tab" : e.org_id }));
      const token = dedupToken(batch.map((e) => eventKey(e.org_id, e.event_id)));
      const payload = Buffer.from(batch.map((e) => `${JSON.stringify(toUsageRow(e, reportedOrUnpriced.price(e), "http"))}\n`).join(""));
      await (await fileFlushJournal(dir)).record({ token, payload });
      const store = wrapInserts(inner, (_, insert) => insert);
      const w = createBatchWriter({ store, logger, pricer: reportedOrUnpriced, policy: idle, journal: await fileFlushJournal(dir) });
      expect(await w.recover()).toBe(1);
      expect(store.tokens).toEqual([token]);
      expect(await counts(inner)).toEqual({ raw: 7, daily: 7, hourly: 7 });
      expect(await readdir(dir)).toEqual([]);
      // The same events through today's TSV path: all known (keys read back from the JSON payload), none stored twice.
      const again = w.write(batch);
      await w.flush();
      await expect(again).resolves.toEqual({ accepted: 0, duplicates: 7 });
      expect(await counts(inner)).toEqual({ raw: 7, daily: 7, hourly: 7 });
      await w.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
