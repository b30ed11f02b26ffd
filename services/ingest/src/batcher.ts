import { type Store, StoreError } from "@tokenmeter/clickhouse";
import {
  type BatchPolicy,
  type FlushReason,
  flushReason,
  hasRoom,
  mayRetry,
  msUntilTimeFlush,
  type Pricer,
  resolveBatchPolicy,
  retryDelayMs,
  toUsageRow,
  type UsageEvent,
  type UsageRow,
} from "@tokenmeter/core";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { fail, newestTime, newTicket, type Pending, settle, splitRepeats, storedIdQuery, toPending } from "./batch.js";
import { createWriterMetrics } from "./batcher-metrics.js";
import { dedupToken, eventKey, findStoredKeys } from "./dedup.js";
import { type FlushJournal, noFlushJournal } from "./flush-journal.js";
import type { EventSink, WriteResult } from "./sink.js";

export interface BatchWriter extends EventSink {
  /** Rows already priced (the Kafka consumer uses this with its own source column). */
  writeRows(rows: UsageRow[]): Promise<WriteResult>;
  /** Flushes everything buffered when called; rejects if one of those flushes failed. */
  flush(): Promise<void>;
  /** Flushes what is buffered, then refuses new writes. */
  close(): Promise<void>;
  /**
   * Redoes flushes a killed process left in the journal (same payload, same
   * token), before this writer takes writes. Returns how many were redone.
   */
  recover(): Promise<number>;
}

export interface BatchWriterOptions {
  store: Store;
  logger: Logger;
  registry?: Registry;
  pricer: Pricer;
  policy?: Partial<BatchPolicy>;
  /** Clock in epoch ms (tests inject one). */
  now?: () => number;
  /** Table inserted into; default llm_usage. */
  table?: string;
  /** Where flushes are noted before their insert (see FlushJournal); default none. */
  journal?: FlushJournal;
}

/** The writer refuses the call: it is closed. */
export class WriterClosedError extends Error {
  override readonly name = "WriterClosedError";
}

/** A batch after its duplicate check, ready to insert. */
interface Prepared {
  reason: FlushReason;
  bytes: number;
  kept: Pending[];
  dropped: Pending[];
  started: number;
  dedupMs: number;
}

/**
 * How a commit ended, and the event keys it made (or will make, first thing
 * in the next commit) stored: a batch checked while it ran drops them.
 */
interface Outcome {
  status: "stored" | "retained" | "failed";
  keys: Set<string>;
}

/** A flush whose insert failed after retries but may have landed in part. */
interface Unsettled {
  payload: Buffer;
  keys: Set<string>;
}

/**
 * The batching writer: buffers priced rows, flushes them on rows, bytes or time
 * (BatchPolicy) as ONE insert into llm_usage with a content-derived
 * insert_deduplication_token, drops event_ids already stored, and settles each
 * caller only once its rows are durable.
 *
 * Inserts run one at a time. Under load the duplicate check of the next batch
 * overlaps the insert of the current one; whatever that check cannot see yet
 * is the current batch, whose keys are dropped from the next in memory.
 */
export function createBatchWriter(opts: BatchWriterOptions): BatchWriter {
  const policy = resolveBatchPolicy(opts.policy);
  const now = opts.now ?? Date.now;
  const table = opts.table ?? "llm_usage";
  const journal = opts.journal ?? noFlushJournal;
  const log = opts.logger;
  const m = createWriterMetrics(opts.registry);
  const insertSettings = (token: string) => ({
    settings: { insert_deduplication_token: token, deduplicate_blocks_in_dependent_materialized_views: 1 },
  });

  let queue: Pending[] = [];
  let queuedBytes = 0;
  let inFlightBytes = 0;
  let oldestAtMs: number | null = null;
  let timer: NodeJS.Timeout | null = null;
  let timeDue = false;
  let loop: Promise<void> | null = null;
  let wakeLoop: (() => void) | null = null;
  let closing = false;
  /** Rows ever enqueued / taken into a flush: flush() waits for the count at its call. */
  let enqueued = 0;
  let taken = 0;
  let forcedUntil = 0;
  let failures = 0;
  let lastError: unknown = null;
  /** Admission is FIFO so a large write waiting for room is not starved by small ones. */
  let admission: Promise<void> = Promise.resolve();
  let roomWaiters: Array<() => void> = [];
  /**
   * Flushes whose insert failed after retries but may have landed in part
   * (raw without rollups): redone, identically, before any later insert.
   */
  const unsettled = new Map<string, Unsettled>();
  let unsettledBytes = 0;

  const setBuffered = () => m.bufferedBytes.set(queuedBytes + inFlightBytes);

  function decide(): FlushReason | null {
    if (queue.length === 0) return null;
    if (closing) return "close";
    if (taken < forcedUntil) return "manual";
    const reason = flushReason({ rows: queue.length, bytes: queuedBytes, oldestAtMs }, now(), policy);
    if (reason) return reason;
    if (timeDue || roomWaiters.length > 0) return timeDue ? "time" : "bytes";
    return null;
  }

  function kick(): void {
    if (loop) {
      // The loop is waiting for an insert: wake it if the next batch is due meanwhile.
      if (wakeLoop && decide()) wakeLoop();
      return;
    }
    if (decide()) {
      loop = runLoop();
      return;
    }
    armTimer();
  }

  function armTimer(): void {
    if (timer || queue.length === 0) return;
    const wait = msUntilTimeFlush({ rows: queue.length, bytes: queuedBytes, oldestAtMs }, now(), policy) ?? policy.maxDelayMs;
    timer = setTimeout(() => {
      timer = null;
      timeDue = true;
      kick();
    }, wait);
    // Not unref'd: buffered rows are a reason to stay alive, or a script awaiting a write would exit with the write unsettled.
  }

  async function runLoop(): Promise<void> {
    let committing: Promise<Outcome> | null = null;
    try {
      for (let reason = decide(); reason; reason = decide()) {
        if (timer) clearTimeout(timer);
        timer = null;
        timeDue = false;
        // 1. Check the next batch while the previous one is being inserted.
        const prepared = await prepare(take(), reason);
        const previous = committing ? await committing : null;
        // 2. What the previous commit stored is invisible to a check that ran alongside it: drop it here.
        if (prepared && previous) dropKnown(prepared, previous.keys);
        committing = prepared ? commit(prepared) : null;
        // 3. Nothing due yet: wait for the insert to finish, or for the next batch to become due.
        if (committing && !decide()) {
          const due = new Promise<"due">((r) => {
            wakeLoop = () => r("due");
          });
          armTimer();
          const woke = await Promise.race([committing, due]);
          wakeLoop = null;
          // Finished: the next batch's check runs after it and sees what it stored.
          if (woke !== "due") committing = null;
        }
      }
      if (committing) await committing;
    } finally {
      loop = null;
      armTimer();
    }
  }

  function take(): { batch: Pending[]; bytes: number } {
    const batch: Pending[] = [];
    let bytes = 0;
    let i = 0;
    for (; i < queue.length && batch.length < policy.maxRows; i++) {
      const p = queue[i]!;
      if (batch.length > 0 && bytes + p.bytes > policy.maxBytes) break;
      queuedBytes -= p.bytes;
      // Rows of a caller whose earlier part failed: the caller was told, it retries the whole write.
      if (p.ticket.failed) continue;
      batch.push(p);
      bytes += p.bytes;
    }
    taken += i;
    queue = i === queue.length ? [] : queue.slice(i);
    oldestAtMs = queue[0]?.atMs ?? null;
    inFlightBytes += bytes;
    return { batch, bytes };
  }

  /** Drops repeats within the batch and events already stored. Never throws: a failure fails the batch. */
  async function prepare({ batch, bytes }: { batch: Pending[]; bytes: number }, reason: FlushReason): Promise<Prepared | null> {
    const started = performance.now();
    try {
      const { unique, repeats } = splitRepeats(batch);
      const stored = await withRetry("dedup_query", () => findStoredKeys(opts.store, storedIdQuery(unique)));
      const kept: Pending[] = [];
      for (const p of unique) (stored.has(p.key) ? repeats : kept).push(p);
      return { reason, bytes, kept, dropped: repeats, started, dedupMs: performance.now() - started };
    } catch (err) {
      failBatch(batch, bytes, reason, err);
      return null;
    }
  }

  function dropKnown(p: Prepared, keys: Set<string>): void {
    const kept: Pending[] = [];
    for (const row of p.kept) (keys.has(row.key) ? p.dropped : kept).push(row);
    p.kept = kept;
  }

  /** Inserts a prepared batch and settles its callers. Never throws. */
  async function commit(p: Prepared): Promise<Outcome> {
    const stored = new Set<string>();
    let flush: { token: string; payload: Buffer; keys: Set<string> } | null = null;
    try {
      // 1. Finish earlier flushes that may have landed in part; their events are stored from here on.
      for (const k of await redoUnsettled()) stored.add(k);
      dropKnown(p, stored);
      // 2. One insert, token from content: a retry of the same rows lands once in raw and rollups.
      if (p.kept.length > 0) {
        const keys = p.kept.map((r) => r.key);
        flush = { token: dedupToken(keys), payload: Buffer.from(p.kept.map((r) => r.line).join("")), keys: new Set(keys) };
        const { token, payload } = flush;
        await journal.record({ token, payload });
        await withRetry("insert", () => opts.store.insert(table, payload, insertSettings(token)));
        await journal.forget(token);
        m.batchBytes.observe(payload.length);
        for (const k of keys) stored.add(k);
      }
      // 3. Settle callers whose rows are now all accounted for.
      for (const r of p.kept) settle(r.ticket, "accepted");
      for (const r of p.dropped) settle(r.ticket, "duplicates");
      const ms = performance.now() - p.started;
      m.record(p.reason, p.kept.length, p.dropped.length, ms, newestTime(p.kept));
      log.info(
        {
          op: "flush",
          reason: p.reason,
          rows: p.kept.length,
          duplicates: p.dropped.length,
          bytes: p.bytes,
          ms: Math.round(ms),
          dedup_ms: Math.round(p.dedupMs),
        },
        "flushed",
      );
      release(p.bytes);
      return { status: "stored", keys: stored };
    } catch (err) {
      // Only an insert that may have run is kept for a redo; a refused redo or journal write stored nothing.
      const retain = flush !== null && (err as { retryable?: unknown }).retryable === true;
      if (flush && retain) {
        unsettled.set(flush.token, { payload: flush.payload, keys: flush.keys });
        unsettledBytes += flush.payload.length;
        for (const k of flush.keys) stored.add(k);
      } else if (flush) await journal.forget(flush.token).catch(() => {});
      failBatch([...p.kept, ...p.dropped], p.bytes, p.reason, err);
      return { status: retain ? "retained" : "failed", keys: stored };
    }
  }

  /** Redoes every unsettled flush, identically, in order; returns the event keys now stored. */
  async function redoUnsettled(): Promise<Set<string>> {
    const keys = new Set<string>();
    for (const [token, u] of unsettled) {
      await withRetry("redo", () => opts.store.insert(table, u.payload, insertSettings(token)));
      // recover() and a flush may both have redone it; the token made the second a no-op.
      if (unsettled.delete(token)) unsettledBytes -= u.payload.length;
      await journal.forget(token);
      for (const k of u.keys) keys.add(k);
      log.info({ op: "redo", token, bytes: u.payload.length }, "redid an unsettled flush");
    }
    return keys;
  }

  function failBatch(batch: Pending[], bytes: number, reason: FlushReason, err: unknown): void {
    failures++;
    lastError = err;
    m.failures.inc();
    log.error({ op: "flush", reason, rows: batch.length, bytes, err }, "flush failed");
    for (const p of batch) fail(p.ticket, err);
    release(bytes);
  }

  function release(bytes: number): void {
    inFlightBytes -= bytes;
    setBuffered();
    const waiters = roomWaiters;
    roomWaiters = [];
    for (const w of waiters) w();
  }

  async function withRetry<T>(op: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const retryable = (err as { retryable?: unknown }).retryable === true;
        if (!mayRetry(attempt, retryable, policy)) throw err;
        const delay = retryDelayMs(attempt, policy);
        m.retries.inc({ op });
        log.warn({ op, attempt, delay_ms: delay, err }, "store call failed, retrying");
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * Waits for room (FIFO), then enqueues in the same turn, so a flush() that
   * waits for the admission queue sees every write called before it.
   */
  async function admit(pending: Pending[]): Promise<void> {
    const bytes = pending.reduce((n, p) => n + p.bytes, 0);
    const turn = admission.then(async () => {
      while (!hasRoom(queuedBytes + inFlightBytes, bytes, policy)) {
        await new Promise<void>((r) => {
          roomWaiters.push(r);
          kick();
        });
      }
      enqueue(pending);
    });
    admission = turn.catch(() => {});
    await turn;
  }

  function enqueue(pending: Pending[]): void {
    const at = now();
    if (oldestAtMs === null) oldestAtMs = at;
    for (const p of pending) {
      p.atMs = at;
      queue.push(p);
      queuedBytes += p.bytes;
    }
    enqueued += pending.length;
    setBuffered();
    kick();
  }

  async function writeRows(rows: UsageRow[]): Promise<WriteResult> {
    if (closing) throw new WriterClosedError("batch writer is closed");
    if (rows.length === 0) return { accepted: 0, duplicates: 0 };
    // Failed flushes waiting for their redo are held in memory; past the bound, refuse rather than grow.
    if (unsettledBytes > policy.maxBufferedBytes) {
      redoInBackground();
      throw new StoreError("unavailable", "storage is failing: earlier batches are still being retried", true);
    }
    const { ticket, promise } = newTicket(rows.length);
    await admit(rows.map((r) => toPending(r, ticket)));
    return promise;
  }

  async function flush(): Promise<void> {
    const failuresBefore = failures;
    await admission;
    const target = enqueued;
    forcedUntil = Math.max(forcedUntil, target);
    // Bounded: each pass takes at least one row below target, and target is fixed.
    while (taken < target || loop) {
      if (!loop) kick();
      if (!loop) break;
      await loop;
    }
    if (failures > failuresBefore) throw lastError;
  }

  async function close(): Promise<void> {
    if (closing) return flush();
    closing = true;
    await admission;
    await flush();
    if (timer) clearTimeout(timer);
    timer = null;
  }

  /** With writes refused, nothing else would retry the unsettled flushes: do it here, exclusive with flushing. */
  function redoInBackground(): void {
    if (loop) return;
    loop = redoUnsettled()
      .then(
        () => {},
        (err) => log.error({ op: "redo", err }, "redo failed"),
      )
      .finally(() => {
        loop = null;
        armTimer();
      });
  }

  async function recover(): Promise<number> {
    if (loop) await loop;
    for (const f of await journal.leftovers()) {
      if (unsettled.has(f.token)) continue;
      unsettled.set(f.token, { payload: f.payload, keys: keysOfPayload(f.payload) });
      unsettledBytes += f.payload.length;
    }
    const before = unsettled.size;
    await redoUnsettled();
    return before;
  }

  return {
    writeRows,
    write: (events: UsageEvent[], source = "http") => writeRows(events.map((e) => toUsageRow(e, opts.pricer.price(e), source))),
    flush,
    close,
    recover,
  };
}

/** Event keys of a journaled JSONEachRow payload. */
function keysOfPayload(payload: Buffer): Set<string> {
  const keys = new Set<string>();
  for (const line of payload.toString("utf8").split("\n")) {
    if (line.length === 0) continue;
    const row = JSON.parse(line) as { org_id: string; event_id: string };
    keys.add(eventKey(row.org_id, row.event_id));
  }
  return keys;
}
