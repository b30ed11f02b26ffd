import type { Store } from "@tokenmeter/clickhouse";
import {
  type BatchPolicy,
  type FlushReason,
  flushReason,
  hasRoom,
  nextTimer,
  type Pricer,
  resolveBatchPolicy,
  toUsageRow,
  type UsageEvent,
  type UsageRow,
} from "@tokenmeter/core";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { newTicket, type Pending, toPending } from "./batch.js";
import { createWriterMetrics } from "./batcher-metrics.js";
import { DEDUP_WINDOW_MS } from "./dedup.js";
import { type FlushJournal, noFlushJournal } from "./flush-journal.js";
import { createFlusher, dropKnown, type Outcome } from "./flusher.js";
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
  /**
   * How far around a batch's event_time range to look for stored event_ids;
   * default DEDUP_WINDOW_MS (1 day). 0 scales with the batch instead of the
   * table (see dedup.ts for the cost).
   */
  dedupWindowMs?: number;
  /** Where flushes are noted before their insert (see FlushJournal); default none. */
  journal?: FlushJournal;
}

/** The writer refuses the call: it is closed. */
export class WriterClosedError extends Error {
  override readonly name = "WriterClosedError";
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
  const log = opts.logger;
  const m = createWriterMetrics(opts.registry);

  let queue: Pending[] = [];
  let queuedBytes = 0;
  let inFlightBytes = 0;
  let oldestAtMs: number | null = null;
  let timer: NodeJS.Timeout | null = null;
  let timerReason: "time" | "idle" | null = null;
  /** Set when a timer fired: decided on without the clock, so an injected frozen clock still flushes. */
  let timeDue = false;
  let idleDue = false;
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
  const setBuffered = () => m.bufferedBytes.set(queuedBytes + inFlightBytes);
  const flusher = createFlusher({
    store: opts.store,
    table: opts.table ?? "llm_usage",
    journal: opts.journal ?? noFlushJournal,
    policy,
    dedupWindowMs: opts.dedupWindowMs ?? DEDUP_WINDOW_MS,
    logger: log,
    metrics: m,
    release,
    failed(err) {
      failures++;
      lastError = err;
    },
  });

  function decide(): FlushReason | null {
    if (queue.length === 0) return null;
    if (closing) return "close";
    if (taken < forcedUntil) return "manual";
    const reason = flushReason({ rows: queue.length, bytes: queuedBytes, oldestAtMs }, now(), policy);
    if (reason) return reason;
    if (timeDue) return "time";
    if (idleDue) return "idle";
    if (roomWaiters.length > 0) return "bytes";
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
    const next = nextTimer({ rows: queue.length, bytes: queuedBytes, oldestAtMs }, now(), policy);
    if (!next) return;
    timerReason = next.reason;
    timer = setTimeout(() => {
      timer = null;
      if (next.reason === "time") timeDue = true;
      else idleDue = true;
      kick();
    }, next.ms);
    // Not unref'd: buffered rows are a reason to stay alive, or a script awaiting a write would exit with the write unsettled.
  }

  async function runLoop(): Promise<void> {
    let committing: Promise<Outcome> | null = null;
    try {
      for (let reason = decide(); reason; reason = decide()) {
        if (timer) clearTimeout(timer);
        timer = null;
        timeDue = false;
        idleDue = false;
        // 1. Check the next batch while the previous one is being inserted.
        const { batch, bytes } = take();
        const prepared = await flusher.prepare(batch, bytes, reason);
        const previous = committing ? await committing : null;
        // 2. What the previous commit stored is invisible to a check that ran alongside it: drop it here.
        if (prepared && previous) dropKnown(prepared, previous.keys);
        committing = prepared ? flusher.commit(prepared) : null;
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

  function release(bytes: number): void {
    inFlightBytes -= bytes;
    setBuffered();
    const waiters = roomWaiters;
    roomWaiters = [];
    for (const w of waiters) w();
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
    // An arrival restarts the idle countdown (and may make the idle trigger apply); the time deadline stays.
    if (timer && (timerReason === "idle" || queue.length >= policy.idleMinRows)) {
      clearTimeout(timer);
      timer = null;
    }
    kick();
    armTimer();
  }

  async function writeRows(rows: UsageRow[]): Promise<WriteResult> {
    if (closing) throw new WriterClosedError("batch writer is closed");
    if (rows.length === 0) return { accepted: 0, duplicates: 0 };
    const { ticket, promise } = newTicket(rows.length);
    await admit(rows.map((r, i) => toPending(r, ticket, i)));
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

  async function recover(): Promise<number> {
    if (loop) await loop;
    const adopted = flusher.adopt(await (opts.journal ?? noFlushJournal).leftovers());
    await flusher.redoUnsettled();
    return adopted;
  }

  return {
    writeRows,
    write: (events: UsageEvent[], source = "http") => writeRows(events.map((e) => toUsageRow(e, opts.pricer.price(e), source))),
    flush,
    close,
    recover,
  };
}
