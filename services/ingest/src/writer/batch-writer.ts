import type { FlushReason, UsageEvent } from "@tokenmeter/core";
import { flushReason, groupCommitDue, hasRoom, nextTimer, resolveBatchPolicy } from "@tokenmeter/core";
import { DEDUP_WINDOW_MS } from "../dedup/stored-ids.js";
import type { WriteResult } from "../sink.js";
import { createAdmission } from "./admission.js";
import { noFlushJournal } from "./flush-journal.js";
import { createFlusher, dropKnown, type Outcome } from "./flusher.js";
import { createWriterMetrics } from "./metrics.js";
import { newTicket, type Pending, takeBatch, toPending } from "./pending.js";
import { type BatchWriter, type BatchWriterOptions, WriterClosedError } from "./writer-options.js";

export { type BatchWriter, type BatchWriterOptions, WriterClosedError } from "./writer-options.js";

/**
 * The batching writer: buffers priced rows, flushes them by group commit, rows,
 * bytes or time (BatchPolicy) as ONE insert into llm_usage with a content-derived
 * insert_deduplication_token, drops event_ids already stored, and settles each
 * caller only once its rows are durable.
 *
 * Inserts run one at a time. Group commit: an idle writer flushes after a
 * short coalescing window; while an insert is in flight rows accumulate and
 * flush as soon as it completes. When a batch is due earlier (full, or its
 * time is up), its duplicate check overlaps the insert in flight; whatever
 * that check cannot see yet is the current batch, whose keys are dropped from
 * the next in memory.
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
  /** An insert (commit) is in flight: group commit waits for it instead of a timer. */
  let inserting = false;
  let loop: Promise<void> | null = null;
  let wakeLoop: (() => void) | null = null;
  let closing = false;
  /** Rows ever enqueued / taken into a flush: flush() waits for the count at its call. */
  let enqueued = 0;
  let taken = 0;
  let forcedUntil = 0;
  let failures = 0;
  let lastError: unknown = null;
  const admission = createAdmission(() => kick());
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
    const state = { rows: queue.length, bytes: queuedBytes, oldestAtMs };
    const reason = flushReason(state, now(), policy);
    if (reason) return reason;
    if (timeDue) return "time";
    if ((idleDue && !inserting) || groupCommitDue(state, now(), inserting, policy)) return "idle";
    if (admission.waiting()) return "bytes";
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
    const next = nextTimer({ rows: queue.length, bytes: queuedBytes, oldestAtMs }, now(), inserting, policy);
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
        committing = prepared ? inFlight(flusher.commit(prepared)) : null;
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
      // The timer armed during an insert was the time trigger only; the coalescing window may apply now.
      if (timer) clearTimeout(timer);
      timer = null;
      armTimer();
    }
  }

  function inFlight(commit: Promise<Outcome>): Promise<Outcome> {
    inserting = true;
    return commit.finally(() => {
      inserting = false;
    });
  }

  function take(): { batch: Pending[]; bytes: number } {
    const { batch, bytes, takenBytes, count } = takeBatch(queue, policy);
    queuedBytes -= takenBytes;
    taken += count;
    queue = count === queue.length ? [] : queue.slice(count);
    oldestAtMs = queue[0]?.atMs ?? null;
    inFlightBytes += bytes;
    return { batch, bytes };
  }

  function release(bytes: number): void {
    inFlightBytes -= bytes;
    setBuffered();
    admission.freed();
  }

  async function admit(pending: Pending[]): Promise<void> {
    const bytes = pending.reduce((n, p) => n + p.bytes, 0);
    await admission.admit(
      () => hasRoom(queuedBytes + inFlightBytes, bytes, policy),
      () => enqueue(pending),
    );
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
    // The coalescing window runs from the oldest row, so an idle timer stays; a time timer is
    // re-armed, as enough rows may now make the window apply (the time deadline stays).
    if (timer && timerReason === "time") {
      clearTimeout(timer);
      timer = null;
    }
    kick();
    armTimer();
  }

  async function write(events: UsageEvent[], source = "http"): Promise<WriteResult> {
    if (closing) throw new WriterClosedError("batch writer is closed");
    if (events.length === 0) return { accepted: 0, duplicates: 0 };
    const { ticket, promise } = newTicket(events.length);
    await admit(events.map((e, i) => toPending(e, opts.pricer.price(e), source, ticket, i)));
    return promise;
  }

  async function flush(): Promise<void> {
    const failuresBefore = failures;
    await admission.settled();
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
    await admission.settled();
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
    write,
    flush,
    close,
    recover,
  };
}
