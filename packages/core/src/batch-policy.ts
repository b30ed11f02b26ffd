/**
 * When the batching writer flushes, how much it may hold, and how it retries.
 * Pure: the writer feeds it counters and the clock, it answers decisions.
 */
export interface BatchPolicy {
  /** Flush once this many rows are buffered. */
  maxRows: number;
  /** Flush once the buffered JSONEachRow payload reaches this many bytes. */
  maxBytes: number;
  /** Flush once the oldest buffered row has waited this long (freshness bound). */
  maxDelayMs: number;
  /**
   * Group commit: while no insert is in flight (the writer is idle), flush
   * once the oldest buffered row has waited this long, a coalescing window
   * that lets callers arriving together share one insert; while an insert is
   * in flight, rows accumulate and flush the moment it completes. 0 disables
   * (only rows, bytes and time flush).
   */
  idleMs: number;
  /** Rows below which an idle writer keeps waiting for the time trigger instead (1 = any row). */
  idleMinRows: number;
  /** Buffered + in-flight bytes above which writers wait (backpressure). */
  maxBufferedBytes: number;
  /** Insert attempts per flush, the first included; then the flush fails. */
  maxAttempts: number;
  /** Backoff before the first retry; doubles each retry, with jitter. */
  retryMinMs: number;
  /** Upper bound of one backoff. */
  retryMaxMs: number;
}

/**
 * Defaults tuned for both throughput and freshness on a 2-core machine.
 *
 * - Group commit (`idleMs` 2 ms, `idleMinRows` 1): an idle writer inserts
 *   what arrived within 2 ms at once, so an HTTP caller's 200 costs the dedup
 *   check plus one insert, not a timer (acks waited out the 500 ms delay
 *   before: p50 ≈ 490 ms even when idle). Under load the batch size adapts by
 *   itself: whatever arrives during one insert is the next insert. Inserts
 *   run one at a time, so their rate is bounded by the insert's own duration
 *   (a few dozen a second at most for small batches), which MergeTree merges.
 * - Freshness target p99 ≤ 2 s from receipt to queryable: a row waits at most
 *   `maxDelayMs` (500 ms) for its flush, plus the dedup check and the insert
 *   (~100 ms for a full batch in chDB), plus at most one flush in progress
 *   ahead of it: ≈ 0.5 + 2 × 0.1 s ≪ 2 s. With group commit a row usually
 *   waits only for the insert in flight; `maxDelayMs` is the bound when one
 *   insert runs long.
 * - Throughput target ≥ 60k events/s: chDB inserts ~200–270k rows/s of
 *   ~430-byte rows, so the insert is not the limit as long as each insert is
 *   big enough to amortize its fixed cost (a part on disk, MV blocks, the
 *   dedup query). 20k rows ≈ 8–9 MB per insert is the cap; at high rates
 *   group commit fills batches towards it because rows accumulate while the
 *   previous insert runs.
 * - `maxBytes` 16 MiB bounds one insert for wide rows (big tags) before the
 *   row count does.
 * - `maxBufferedBytes` 64 MiB: one batch in flight plus a few queued; beyond
 *   that callers wait instead of the heap growing (Kafka simply pauses).
 * - Retries: 5 attempts, 100 ms doubling to at most 5 s with jitter ≈ 8 s
 *   worst case, enough to ride over a ClickHouse restart or a merge stall
 *   without holding callers for minutes.
 */
export const DEFAULT_BATCH_POLICY: Readonly<BatchPolicy> = Object.freeze({
  maxRows: 20_000,
  maxBytes: 16 * 1024 * 1024,
  maxDelayMs: 500,
  idleMs: 2,
  idleMinRows: 1,
  maxBufferedBytes: 64 * 1024 * 1024,
  maxAttempts: 5,
  retryMinMs: 100,
  retryMaxMs: 5_000,
});

/** Fills in defaults and rejects nonsense, reporting every problem at once. */
export function resolveBatchPolicy(overrides: Partial<BatchPolicy> = {}): BatchPolicy {
  const p: BatchPolicy = { ...DEFAULT_BATCH_POLICY };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (p as unknown as Record<string, number>)[k] = v;
  const problems: string[] = [];
  for (const [k, v] of Object.entries(p)) {
    if (!Number.isFinite(v) || v < 0) problems.push(`${k} must be a finite number >= 0`);
  }
  if (p.maxRows < 1) problems.push("maxRows must be >= 1");
  if (p.maxBytes < 1) problems.push("maxBytes must be >= 1");
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) problems.push("maxAttempts must be an integer >= 1");
  if (p.maxBufferedBytes < p.maxBytes) problems.push("maxBufferedBytes must be >= maxBytes");
  if (p.retryMaxMs < p.retryMinMs) problems.push("retryMaxMs must be >= retryMinMs");
  if (problems.length > 0) throw new RangeError(`invalid batch policy: ${problems.join("; ")}`);
  return p;
}

export type FlushReason = "rows" | "bytes" | "time" | "idle" | "close" | "manual";

/** What the writer holds right now, as the policy sees it. */
export interface BufferState {
  rows: number;
  bytes: number;
  /** When the oldest buffered row arrived (ms), or null when empty. */
  oldestAtMs: number | null;
}

/**
 * Whether an idle writer (no insert in flight) should flush now: enough rows
 * wait and the oldest has waited out the coalescing window. Never while an
 * insert is in flight: its completion is the trigger.
 */
export function groupCommitDue(s: BufferState, now: number, inFlight: boolean, p: BatchPolicy): boolean {
  if (inFlight || p.idleMs <= 0 || s.rows === 0 || s.rows < p.idleMinRows || s.oldestAtMs === null) return false;
  return now - s.oldestAtMs >= p.idleMs;
}

/** Whether to flush now and why; null means keep buffering. */
export function flushReason(s: BufferState, now: number, p: BatchPolicy): FlushReason | null {
  if (s.rows === 0) return null;
  if (s.rows >= p.maxRows) return "rows";
  if (s.bytes >= p.maxBytes) return "bytes";
  if (s.oldestAtMs !== null && now - s.oldestAtMs >= p.maxDelayMs) return "time";
  return null;
}

/** Milliseconds until the time trigger fires (0 = due), or null when empty. */
export function msUntilTimeFlush(s: BufferState, now: number, p: BatchPolicy): number | null {
  if (s.rows === 0 || s.oldestAtMs === null) return null;
  return Math.max(0, s.oldestAtMs + p.maxDelayMs - now);
}

/**
 * Which timer to arm: the end of the coalescing window when the writer is
 * idle, enough rows wait and it comes first, else the time trigger; null when
 * empty. While an insert is in flight only the time trigger: the insert's
 * completion flushes what accumulated.
 */
export function nextTimer(s: BufferState, now: number, inFlight: boolean, p: BatchPolicy): { reason: "time" | "idle"; ms: number } | null {
  const time = msUntilTimeFlush(s, now, p);
  if (time === null || s.oldestAtMs === null) return null;
  if (!inFlight && p.idleMs > 0 && s.rows >= p.idleMinRows) {
    const idle = Math.max(0, s.oldestAtMs + p.idleMs - now);
    if (idle < time) return { reason: "idle", ms: idle };
  }
  return { reason: "time", ms: time };
}

/**
 * Whether a write of `incoming` bytes may enter now. An empty writer always
 * admits, so a single write bigger than the bound still makes progress.
 */
export function hasRoom(bufferedBytes: number, incoming: number, p: BatchPolicy): boolean {
  return bufferedBytes === 0 || bufferedBytes + incoming <= p.maxBufferedBytes;
}

/** Whether attempt number `attempt` (1-based) that just failed may be retried. */
export function mayRetry(attempt: number, retryable: boolean, p: BatchPolicy): boolean {
  return retryable && attempt < p.maxAttempts;
}

/**
 * Backoff before retry after failed attempt `attempt` (1-based): exponential
 * from retryMinMs, capped at retryMaxMs, "equal jitter" (half fixed, half
 * random) so retries of many writers spread out but never collapse to 0.
 */
export function retryDelayMs(
  attempt: number,
  p: Pick<BatchPolicy, "retryMinMs" | "retryMaxMs">,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(p.retryMaxMs, p.retryMinMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
