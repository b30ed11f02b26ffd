import type { Store } from "@tokenmeter/clickhouse";
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
import { createWriterMetrics } from "./batcher-metrics.js";
import { dedupToken, eventKey, findStoredKeys } from "./dedup.js";
import type { EventSink, WriteResult } from "./sink.js";

export interface BatchWriter extends EventSink {
  /** Rows already priced (the Kafka consumer uses this with its own source column). */
  writeRows(rows: UsageRow[]): Promise<WriteResult>;
  /** Flushes everything buffered when called; rejects if one of those flushes failed. */
  flush(): Promise<void>;
  /** Flushes what is buffered, then refuses new writes. */
  close(): Promise<void>;
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
}

/** The writer refuses the call: it is closed. */
export class WriterClosedError extends Error {
  override readonly name = "WriterClosedError";
}

/** One caller's write: settled when all of its rows are stored or dropped as duplicates. */
interface Ticket {
  remaining: number;
  accepted: number;
  duplicates: number;
  failed: boolean;
  resolve(r: WriteResult): void;
  reject(err: unknown): void;
}

/** One buffered row, serialized once on entry. */
interface Pending {
  key: string;
  org_id: string;
  event_id: string;
  timeMs: number;
  line: string;
  bytes: number;
  /** When it entered the buffer (ms), for the time trigger. */
  atMs: number;
  ticket: Ticket;
}

/**
 * The batching writer: buffers priced rows, flushes them on rows, bytes or time
 * (BatchPolicy) as ONE insert into llm_usage with a content-derived
 * insert_deduplication_token, drops event_ids already stored, and settles each
 * caller only once its rows are durable. One flush at a time, so the stored-id
 * check of a batch always sees the batches before it.
 */
export function createBatchWriter(opts: BatchWriterOptions): BatchWriter {
  const policy = resolveBatchPolicy(opts.policy);
  const now = opts.now ?? Date.now;
  const table = opts.table ?? "llm_usage";
  const log = opts.logger;
  const m = createWriterMetrics(opts.registry);

  let queue: Pending[] = [];
  let queuedBytes = 0;
  let inFlightBytes = 0;
  let oldestAtMs: number | null = null;
  let timer: NodeJS.Timeout | null = null;
  let timeDue = false;
  let loop: Promise<void> | null = null;
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
    if (loop) return;
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
    try {
      for (let reason = decide(); reason; reason = decide()) {
        if (timer) clearTimeout(timer);
        timer = null;
        timeDue = false;
        await flushOnce(reason);
      }
    } finally {
      loop = null;
      armTimer();
    }
  }

  function take(): Pending[] {
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
    return batch;
  }

  async function flushOnce(reason: FlushReason): Promise<void> {
    const started = performance.now();
    const batch = take();
    const bytes = batch.reduce((n, p) => n + p.bytes, 0);
    try {
      // 1. Drop repeats inside the batch: the first occurrence wins.
      const seen = new Set<string>();
      const unique: Pending[] = [];
      const dropped: Pending[] = [];
      for (const p of batch) {
        if (seen.has(p.key)) dropped.push(p);
        else {
          seen.add(p.key);
          unique.push(p);
        }
      }
      // 2. Drop events already stored by an earlier flush (this process or another).
      const stored = await withRetry("dedup_query", () => findStoredKeys(opts.store, storedIdQuery(unique)));
      const dedupMs = performance.now() - started;
      const kept: Pending[] = [];
      for (const p of unique) (stored.has(p.key) ? dropped : kept).push(p);
      // 3. One insert, token from content: a retry of the same rows lands once in raw and rollups.
      if (kept.length > 0) {
        const payload = Buffer.from(kept.map((p) => p.line).join(""));
        const token = dedupToken(kept.map((p) => p.key));
        await withRetry("insert", () =>
          opts.store.insert(table, payload, {
            settings: { insert_deduplication_token: token, deduplicate_blocks_in_dependent_materialized_views: 1 },
          }),
        );
        m.batchBytes.observe(payload.length);
      }
      // 4. Settle callers whose rows are now all accounted for.
      for (const p of kept) settle(p.ticket, "accepted");
      for (const p of dropped) settle(p.ticket, "duplicates");
      const ms = performance.now() - started;
      m.record(reason, kept.length, dropped.length, ms, maxTime(kept));
      log.info(
        { op: "flush", reason, rows: kept.length, duplicates: dropped.length, bytes, ms: Math.round(ms), dedup_ms: Math.round(dedupMs) },
        "flushed",
      );
    } catch (err) {
      failures++;
      lastError = err;
      m.failures.inc();
      log.error({ op: "flush", reason, rows: batch.length, bytes, err }, "flush failed");
      for (const p of batch) fail(p.ticket, err);
    } finally {
      inFlightBytes -= bytes;
      setBuffered();
      const waiters = roomWaiters;
      roomWaiters = [];
      for (const w of waiters) w();
    }
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
    const ticket: Ticket = { remaining: rows.length, accepted: 0, duplicates: 0, failed: false, resolve: () => {}, reject: () => {} };
    const promise = new Promise<WriteResult>((resolve, reject) => {
      ticket.resolve = resolve;
      ticket.reject = reject;
    });
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

  return {
    writeRows,
    write: (events: UsageEvent[], source = "http") => writeRows(events.map((e) => toUsageRow(e, opts.pricer.price(e), source))),
    flush,
    close,
  };
}

function toPending(row: UsageRow, ticket: Ticket): Pending {
  const line = `${JSON.stringify(row)}\n`;
  return {
    key: eventKey(row.org_id, row.event_id),
    org_id: row.org_id,
    event_id: row.event_id,
    timeMs: Date.parse(`${row.event_time.replace(" ", "T")}Z`),
    line,
    bytes: Buffer.byteLength(line),
    atMs: 0,
    ticket,
  };
}

function settle(t: Ticket, outcome: "accepted" | "duplicates"): void {
  if (t.failed) return;
  t[outcome]++;
  if (--t.remaining === 0) t.resolve({ accepted: t.accepted, duplicates: t.duplicates });
}

function fail(t: Ticket, err: unknown): void {
  if (t.failed) return;
  t.failed = true;
  t.reject(err);
}

function storedIdQuery(batch: Pending[]) {
  const orgs = new Set<string>();
  let minTimeMs = Number.POSITIVE_INFINITY;
  let maxTimeMs = Number.NEGATIVE_INFINITY;
  for (const p of batch) {
    orgs.add(p.org_id);
    if (p.timeMs < minTimeMs) minTimeMs = p.timeMs;
    if (p.timeMs > maxTimeMs) maxTimeMs = p.timeMs;
  }
  return { orgs: [...orgs], ids: batch.map((p) => p.event_id), minTimeMs, maxTimeMs };
}

function maxTime(batch: Pending[]): number | null {
  let max: number | null = null;
  for (const p of batch) if (max === null || p.timeMs > max) max = p.timeMs;
  return max;
}
