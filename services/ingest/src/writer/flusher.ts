import type { Store } from "@tokenmeter/clickhouse";
import { type BatchPolicy, type FlushReason, mayRetry, retryDelayMs } from "@tokenmeter/core";
import type { Logger } from "pino";
import { insertLinesSplitting, logSplits, type RefusedRow } from "../dedup/bisect.js";
import { dedupToken, findStoredKeys, storedIdQuery } from "../dedup/stored-ids.js";
import type { FlushJournal, JournaledFlush } from "./flush-journal.js";
import type { WriterMetrics } from "./metrics.js";
import { keysOfPayload, payloadShape, refusedKeys } from "./payload-keys.js";
import { fail, newestTime, type Pending, payloadOf, refuse, settle, splitRepeats } from "./pending.js";

/** A batch after its duplicate check, ready to insert. */
export interface Prepared {
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
export interface Outcome {
  status: "stored" | "retained" | "failed";
  keys: Set<string>;
}

/** A flush whose insert failed after retries but may have landed in part. */
interface Unsettled {
  payload: Buffer;
  keys: Set<string>;
}

export interface FlusherDeps {
  store: Store;
  table: string;
  journal: FlushJournal;
  policy: BatchPolicy;
  /** How far around the batch's event_time range the stored-id check looks (see DEDUP_WINDOW_MS). */
  dedupWindowMs: number;
  logger: Logger;
  metrics: WriterMetrics;
  /** A batch left the writer's hands (stored, dropped or failed): its bytes no longer count. */
  release(bytes: number): void;
  /** A batch failed: its callers were rejected with `err`. */
  failed(err: unknown): void;
}

/**
 * The store side of the batching writer: the duplicate check of a batch
 * (`prepare`), its one insert (`commit`), and the redo of flushes that failed
 * after retries but may have landed in part. The writer calls `commit` one at
 * a time and may run the next `prepare` alongside it.
 */
export function createFlusher(deps: FlusherDeps) {
  const { store, table, journal, logger: log, metrics: m } = deps;
  const insertSettings = (token: string) => ({ insert_deduplication_token: token, deduplicate_blocks_in_dependent_materialized_views: 1 });
  /**
   * Flushes whose insert failed after retries but may have landed in part
   * (raw without rollups): redone, identically, before any later insert.
   * While the store is down, later commits fail at that redo, before their
   * own insert, and are not kept: this holds one flush plus what recover()
   * adopted, never more.
   */
  const unsettled = new Map<string, Unsettled>();

  /** Drops repeats within the batch and events already stored. Never throws: a failure fails the batch. */
  async function prepare(batch: Pending[], bytes: number, reason: FlushReason): Promise<Prepared | null> {
    const started = performance.now();
    try {
      const { unique, repeats } = splitRepeats(batch);
      const stored = await withRetry("dedup_query", () =>
        findStoredKeys(
          store,
          storedIdQuery(unique, (p) => p.timeMs),
          deps.dedupWindowMs,
        ),
      );
      const kept: Pending[] = [];
      for (const p of unique) (stored.has(p.key) ? repeats : kept).push(p);
      return { reason, bytes, kept, dropped: repeats, started, dedupMs: performance.now() - started };
    } catch (err) {
      failBatch(batch, bytes, reason, err);
      return null;
    }
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
      //    A row the engine refuses splits the insert (bisect.ts) instead of failing everyone's rows.
      let refused: RefusedRow[] = [];
      if (p.kept.length > 0) {
        const keys = p.kept.map((r) => r.key);
        flush = {
          token: dedupToken(keys),
          payload: payloadOf(p.kept),
          keys: new Set(keys),
        };
        const { token, payload } = flush;
        await journal.record({ token, payload });
        refused = await insertSplit(payload, token);
        await journal.forget(token);
        m.batchBytes.observe(payload.length);
        for (const k of keys) stored.add(k);
      }
      // 3. Settle callers whose rows are now all accounted for; refused rows are reported, never stored.
      const refusedAt = new Map(refused.map((r) => [r.index, r.reason]));
      for (const [i, r] of p.kept.entries()) {
        const reason = refusedAt.get(i);
        if (reason === undefined) settle(r.ticket, "accepted");
        else {
          refuse(r, reason);
          stored.delete(r.key);
        }
      }
      if (refused.length > 0) {
        m.refused.inc(refused.length);
        log.warn(
          { op: "flush", refused: refused.length, rows: p.kept.length, reason: refused[0]!.reason },
          "engine refused rows; stored the rest",
        );
      }
      for (const r of p.dropped) settle(r.ticket, "duplicates");
      const ms = performance.now() - p.started;
      m.record(p.reason, p.kept.length - refused.length, p.dropped.length, ms, newestTime(p.kept));
      log.info(
        {
          op: "flush",
          reason: p.reason,
          rows: p.kept.length - refused.length,
          duplicates: p.dropped.length,
          bytes: p.bytes,
          ms: Math.round(ms),
          dedup_ms: Math.round(p.dedupMs),
        },
        "flushed",
      );
      deps.release(p.bytes);
      return { status: "stored", keys: stored };
    } catch (err) {
      // Only an insert that may have run is kept for a redo; a refused redo or journal write stored nothing.
      const retain = flush !== null && (err as { retryable?: unknown }).retryable === true;
      if (flush && retain) {
        unsettled.set(flush.token, { payload: flush.payload, keys: flush.keys });
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
      const refused = await insertSplit(u.payload, token, "redo");
      if (refused.length > 0)
        log.warn({ op: "redo", token, refused: refused.length, reason: refused[0]!.reason }, "engine refused rows of a redone flush");
      // recover() and a flush may both have redone it; the token made the second a no-op.
      unsettled.delete(token);
      await journal.forget(token);
      // Refused rows are not stored: a retry of their request must be refused again, not dropped as a duplicate.
      const notStored = refusedKeys(u.payload, refused);
      for (const k of u.keys) if (!notStored.has(k)) keys.add(k);
      log.info({ op: "redo", token, bytes: u.payload.length }, "redid an unsettled flush");
    }
    return keys;
  }

  /** One flush's insert, each part retried while the store is unavailable, split on a refused row. */
  function insertSplit(payload: Buffer, token: string, op = "insert"): Promise<RefusedRow[]> {
    const { format, headerLines } = payloadShape(payload);
    return insertLinesSplitting(
      payload,
      token,
      headerLines,
      (part, tok) => withRetry(op, () => store.insert(table, part, { format, settings: insertSettings(tok) })),
      logSplits(log, op),
    );
  }

  function failBatch(batch: Pending[], bytes: number, reason: FlushReason, err: unknown): void {
    m.failures.inc();
    log.error({ op: "flush", reason, rows: batch.length, bytes, err }, "flush failed");
    for (const p of batch) fail(p.ticket, err);
    deps.failed(err);
    deps.release(bytes);
  }

  async function withRetry<T>(op: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const retryable = (err as { retryable?: unknown }).retryable === true;
        if (!mayRetry(attempt, retryable, deps.policy)) throw err;
        const delay = retryDelayMs(attempt, deps.policy);
        m.retries.inc({ op });
        log.warn({ op, attempt, delay_ms: delay, err }, "store call failed, retrying");
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Takes over flushes a killed process left in the journal; they are redone before the next insert. */
  function adopt(leftovers: JournaledFlush[]): number {
    let adopted = 0;
    for (const f of leftovers) {
      if (unsettled.has(f.token)) continue;
      unsettled.set(f.token, { payload: f.payload, keys: keysOfPayload(f.payload) });
      adopted++;
    }
    return adopted;
  }

  return { prepare, commit, redoUnsettled, adopt };
}

/** Moves rows whose event is known to be stored from `kept` to `dropped`. */
export function dropKnown(p: Prepared, keys: Set<string>): void {
  if (keys.size === 0) return;
  const kept: Pending[] = [];
  for (const row of p.kept) (keys.has(row.key) ? p.dropped : kept).push(row);
  p.kept = kept;
}
