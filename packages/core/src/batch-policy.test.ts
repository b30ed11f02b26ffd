import { describe, expect, it } from "vitest";
import {
  DEFAULT_BATCH_POLICY,
  flushReason,
  groupCommitDue,
  hasRoom,
  mayRetry,
  msUntilTimeFlush,
  nextTimer,
  resolveBatchPolicy,
  retryDelayMs,
} from "./batch-policy.js";

const p = resolveBatchPolicy({ maxRows: 100, maxBytes: 1_000, maxDelayMs: 500, maxBufferedBytes: 4_000 });

describe("resolveBatchPolicy", () => {
  it("fills defaults and keeps overrides", () => {
    expect(resolveBatchPolicy()).toEqual(DEFAULT_BATCH_POLICY);
    expect(resolveBatchPolicy({ maxRows: 5, maxDelayMs: undefined }).maxRows).toBe(5);
    expect(resolveBatchPolicy({ maxDelayMs: undefined }).maxDelayMs).toBe(DEFAULT_BATCH_POLICY.maxDelayMs);
  });

  it("reports every problem at once", () => {
    expect(() =>
      resolveBatchPolicy({ maxRows: 0, maxAttempts: 1.5, maxBufferedBytes: 10, maxBytes: 20, retryMinMs: 10, retryMaxMs: 5 }),
    ).toThrow(
      "invalid batch policy: maxRows must be >= 1; maxAttempts must be an integer >= 1; maxBufferedBytes must be >= maxBytes; retryMaxMs must be >= retryMinMs",
    );
    expect(() => resolveBatchPolicy({ maxDelayMs: Number.NaN })).toThrow("maxDelayMs must be a finite number >= 0");
  });
});

describe("flushReason", () => {
  it("keeps buffering an empty or small, fresh buffer", () => {
    expect(flushReason({ rows: 0, bytes: 0, oldestAtMs: null }, 10_000, p)).toBeNull();
    expect(flushReason({ rows: 99, bytes: 999, oldestAtMs: 1_000 }, 1_499, p)).toBeNull();
  });

  it("flushes on rows, then bytes, then age", () => {
    expect(flushReason({ rows: 100, bytes: 5_000, oldestAtMs: 0 }, 10_000, p)).toBe("rows");
    expect(flushReason({ rows: 1, bytes: 1_000, oldestAtMs: 0 }, 10_000, p)).toBe("bytes");
    expect(flushReason({ rows: 1, bytes: 10, oldestAtMs: 1_000 }, 1_500, p)).toBe("time");
  });
});

describe("msUntilTimeFlush", () => {
  it("counts down from the oldest row's arrival", () => {
    expect(msUntilTimeFlush({ rows: 0, bytes: 0, oldestAtMs: null }, 0, p)).toBeNull();
    expect(msUntilTimeFlush({ rows: 1, bytes: 1, oldestAtMs: 1_000 }, 1_200, p)).toBe(300);
    expect(msUntilTimeFlush({ rows: 1, bytes: 1, oldestAtMs: 1_000 }, 9_000, p)).toBe(0);
  });
});

describe("group commit", () => {
  const q = resolveBatchPolicy({ maxDelayMs: 500, idleMs: 5, idleMinRows: 3 });
  it("flushes an idle writer once the oldest row has waited out the coalescing window", () => {
    expect(groupCommitDue({ rows: 3, bytes: 1, oldestAtMs: 1_000 }, 1_004, false, q)).toBe(false);
    expect(groupCommitDue({ rows: 3, bytes: 1, oldestAtMs: 1_000 }, 1_005, false, q)).toBe(true);
  });

  it("never while an insert is in flight, below idleMinRows, empty, or disabled", () => {
    expect(groupCommitDue({ rows: 3, bytes: 1, oldestAtMs: 1_000 }, 1_400, true, q)).toBe(false);
    expect(groupCommitDue({ rows: 2, bytes: 1, oldestAtMs: 1_000 }, 1_400, false, q)).toBe(false);
    expect(groupCommitDue({ rows: 0, bytes: 0, oldestAtMs: null }, 1_400, false, q)).toBe(false);
    expect(groupCommitDue({ rows: 3, bytes: 1, oldestAtMs: 1_000 }, 1_400, false, { ...q, idleMs: 0 })).toBe(false);
  });

  it("defaults to a window of a few ms that any row opens", () => {
    const d = resolveBatchPolicy();
    expect(d.idleMs).toBeGreaterThan(0);
    expect(d.idleMs).toBeLessThanOrEqual(5);
    expect(groupCommitDue({ rows: 1, bytes: 1, oldestAtMs: 0 }, d.idleMs, false, d)).toBe(true);
  });
});

describe("nextTimer", () => {
  const q = resolveBatchPolicy({ maxDelayMs: 500, idleMs: 20, idleMinRows: 100 });
  it("arms the end of the coalescing window when idle with enough rows, the time trigger otherwise", () => {
    expect(nextTimer({ rows: 0, bytes: 0, oldestAtMs: null }, 0, false, q)).toBeNull();
    expect(nextTimer({ rows: 99, bytes: 1, oldestAtMs: 1_000 }, 1_100, false, q)).toEqual({ reason: "time", ms: 400 });
    expect(nextTimer({ rows: 100, bytes: 1, oldestAtMs: 1_000 }, 1_005, false, q)).toEqual({ reason: "idle", ms: 15 });
    expect(nextTimer({ rows: 100, bytes: 1, oldestAtMs: 1_000 }, 1_100, false, q)).toEqual({ reason: "idle", ms: 0 });
    expect(nextTimer({ rows: 100, bytes: 1, oldestAtMs: 1_000 }, 1_100, false, { ...q, idleMs: 0 })).toEqual({
      reason: "time",
      ms: 400,
    });
  });

  it("arms only the time trigger while an insert is in flight: its completion flushes", () => {
    expect(nextTimer({ rows: 100, bytes: 1, oldestAtMs: 1_000 }, 1_005, true, q)).toEqual({ reason: "time", ms: 495 });
  });
});

describe("hasRoom", () => {
  it("admits up to the bound, and always into an empty writer", () => {
    expect(hasRoom(3_000, 1_000, p)).toBe(true);
    expect(hasRoom(3_001, 1_000, p)).toBe(false);
    expect(hasRoom(0, 10_000, p)).toBe(true);
  });
});

describe("retries", () => {
  it("retries only retryable errors, up to maxAttempts in all", () => {
    const q = resolveBatchPolicy({ maxAttempts: 3 });
    expect(mayRetry(1, true, q)).toBe(true);
    expect(mayRetry(2, true, q)).toBe(true);
    expect(mayRetry(3, true, q)).toBe(false);
    expect(mayRetry(1, false, q)).toBe(false);
  });

  it("backs off exponentially with equal jitter, capped", () => {
    const q = resolveBatchPolicy({ retryMinMs: 100, retryMaxMs: 1_000 });
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(a, q, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(a, q, () => 1))).toEqual([100, 200, 400, 800, 1_000]);
  });
});
