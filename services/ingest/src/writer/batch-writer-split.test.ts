import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Store, StoreError } from "@tokenmeter/clickhouse";
import { type BatchPolicy, reportedOrUnpriced, type UsageEvent, validateEvent } from "@tokenmeter/core";
import { pino } from "pino";
import { afterEach, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import { FaultyStore } from "../fault-store.js";
import { createBatchWriter } from "./batch-writer.js";
import { fileFlushJournal } from "./flush-journal.js";

// The batching writer splits a flush around rows the engine refuses (a real
// data error on the real engine, made by the refuse marker), and a process
// killed mid-split is redone from the journal into exactly the same inserts.
const T = Date.now() - 60_000;
const MARKER = "refuse-me-b1s3";
const logger = pino({ level: "silent" });
const idle: Partial<BatchPolicy> = { maxRows: 1_000_000, maxBytes: 64 * 1024 * 1024, maxDelayMs: 600_000, idleMs: 0 };
const stores: Store[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await dropTestStore(s);
});

function events(n: number, marked: readonly number[]): UsageEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const r = validateEvent(
      {
        event_id: randomUUID(),
        event_time: new Date(T - i * 1_000).toISOString(),
        org_id: i % 2 === 0 ? "org-p" : "org-v",
        agent_id: marked.includes(i) ? MARKER : "bot",
        provider: "openai",
        model: "gpt-4o",
        input_tokens: 100 + i,
        output_tokens: 10,
        status_code: 200,
      },
      { now: Date.now() },
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.event;
  });
}

async function counts(store: Store) {
  const one = async (sql: string) => Number((await store.query<{ n: number }>(sql))[0]?.n);
  return {
    raw: await one("SELECT count() AS n FROM llm_usage"),
    ids: await one("SELECT uniqExact(event_id) AS n FROM llm_usage"),
    daily: await one("SELECT sum(requests) AS n FROM llm_usage_daily"),
    hourly: await one("SELECT sum(requests) AS n FROM llm_usage_hourly"),
  };
}

/** Passes `lives` inserts through, then never answers again: the process died there. */
function dyingAfter(inner: Store, lives: number): { store: Store; died: Promise<void> } {
  let left = lives;
  let die!: () => void;
  const died = new Promise<void>((r) => {
    die = r;
  });
  const store: Store = {
    database: inner.database,
    query: (sql, params, opts) => inner.query(sql, params, opts),
    command: (sql, params, opts) => inner.command(sql, params, opts),
    close: () => inner.close(),
    async insert(table, rows, opts) {
      if (left-- <= 0) {
        die();
        await new Promise(() => {});
      }
      await inner.insert(table, rows, opts);
    },
  };
  return { store, died };
}

it("stores every other row once and reports the refused ones by index", async () => {
  const inner = await openTestStore();
  stores.push(inner);
  const writer = createBatchWriter({
    store: new FaultyStore(inner, { failRate: 0, timeoutRate: 0, maxDelayMs: 0, refuseMarker: MARKER }),
    logger,
    pricer: reportedOrUnpriced,
    policy: idle,
  });
  const a = writer.write(events(120, [3, 77]));
  const b = writer.write(events(40, []));
  await writer.flush();
  const ra = await a;
  expect(ra).toMatchObject({ accepted: 118, duplicates: 0 });
  expect(ra.refused?.map((r) => r.index)).toEqual([3, 77]);
  // The engine's own parse error for the TSV row the marker broke (CANNOT_PARSE_INPUT_ASSERTION_FAILED).
  expect(ra.refused?.[0]?.reason).toMatch(/^Code: 27\./);
  await expect(b).resolves.toEqual({ accepted: 40, duplicates: 0 });
  expect(await counts(inner)).toEqual({ raw: 158, ids: 158, daily: 158, hourly: 158 });
  await writer.close();
});

it.each([1, 3, 6])("holds exactly-once when the process dies after %i inserts of the split and the journal redoes it", async (lives) => {
  const inner = await openTestStore();
  stores.push(inner);
  const dir = await mkdtemp(join(tmpdir(), "tm-split-journal-"));
  try {
    const refusing = (s: Store) => new FaultyStore(s, { failRate: 0, timeoutRate: 0, maxDelayMs: 0, refuseMarker: MARKER });
    const batch = events(200, [17, 150]);
    const dying = dyingAfter(inner, lives);
    const first = createBatchWriter({
      store: refusing(dying.store),
      logger,
      pricer: reportedOrUnpriced,
      policy: idle,
      journal: await fileFlushJournal(dir),
    });
    void first.write(batch);
    void first.flush();
    await dying.died;
    expect(await readdir(dir)).toHaveLength(1);
    // The restarted process redoes the journaled flush before taking writes: the same split, the same tokens.
    const restarted = createBatchWriter({
      store: refusing(inner),
      logger,
      pricer: reportedOrUnpriced,
      policy: idle,
      journal: await fileFlushJournal(dir),
    });
    expect(await restarted.recover()).toBe(1);
    expect(await counts(inner)).toEqual({ raw: 198, ids: 198, daily: 198, hourly: 198 });
    expect(await readdir(dir)).toEqual([]);
    // The client never got its answer and retries: the stored rows are duplicates, the refused ones refused again.
    const retry = restarted.write(batch);
    await restarted.flush();
    const r = await retry;
    expect(r).toMatchObject({ accepted: 0, duplicates: 198 });
    expect(r.refused?.map((x) => x.index)).toEqual([17, 150]);
    expect(await counts(inner)).toEqual({ raw: 198, ids: 198, daily: 198, hourly: 198 });
    await restarted.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it("refuses the rows again when a split interrupted by an outage is redone and the client retries", async () => {
  const inner = await openTestStore();
  stores.push(inner);
  // The third insert (inside the split) fails once as unavailable; one attempt per insert, so the flush is held for a redo.
  let n = 0;
  const flaky: Store = {
    database: inner.database,
    query: (sql, params, opts) => inner.query(sql, params, opts),
    command: (sql, params, opts) => inner.command(sql, params, opts),
    close: () => inner.close(),
    async insert(table, rows, opts) {
      if (++n === 3) throw new StoreError("unavailable", "injected outage", true);
      await inner.insert(table, rows, opts);
    },
  };
  const writer = createBatchWriter({
    store: new FaultyStore(flaky, { failRate: 0, timeoutRate: 0, maxDelayMs: 0, refuseMarker: MARKER }),
    logger,
    pricer: reportedOrUnpriced,
    policy: { ...idle, maxAttempts: 1 },
  });
  const batch = events(50, [9]);
  const first = writer.write(batch);
  await expect(writer.flush()).rejects.toThrow(/injected outage/);
  await expect(first).rejects.toThrow(/injected outage/);
  // The client retries; the held flush is redone first (same split), then the retry finds 49 stored, 1 refused.
  const retry = writer.write(batch);
  await writer.flush();
  const r = await retry;
  expect(r).toMatchObject({ accepted: 0, duplicates: 49 });
  expect(r.refused?.map((x) => x.index)).toEqual([9]);
  expect(await counts(inner)).toEqual({ raw: 49, ids: 49, daily: 49, hourly: 49 });
  await writer.close();
});
