import { setTimeout as sleep } from "node:timers/promises";
import { retryDelayMs } from "@tokenmeter/core";
import type { Logger } from "pino";
import type { WriteDeps, WriteOutcome } from "./commit-protocol.js";

/**
 * Consecutive failures a member's writes may meet that retrying cannot cure
 * (the store refuses the statement itself: `retryable: false`) before the
 * member reports not ready. Such a failure blocks its partitions until the
 * store accepts the statement (offsets must not move past unstored rows), so
 * the write keeps retrying; what changes is that an operator sees it:
 * /readyz answers 503 and one error line says what and where.
 */
export const STUCK_AFTER = 3;

export interface WriteHealth {
  /** A write step failed; `err` as thrown. */
  failed(op: string, err: unknown): void;
  /** A write step succeeded: a streak ends. */
  succeeded(): void;
  /** The member's writes are stuck on a non-retryable failure. */
  stuck(): boolean;
}

export function createWriteHealth(log: Logger, after: number = STUCK_AFTER): WriteHealth {
  let streak = 0;
  let stuck = false;
  return {
    failed(op, err) {
      if ((err as { retryable?: unknown })?.retryable !== false) {
        streak = 0;
        return;
      }
      streak++;
      if (streak >= after && !stuck) {
        stuck = true;
        log.error(
          { op, attempts: streak, err },
          "the store refuses this batch's statement and retrying cannot help; its partitions wait here, not ready, until it is accepted",
        );
      }
    },
    succeeded() {
      if (stuck) log.info({ op: "write_health" }, "the store accepts this member's writes again; ready");
      streak = 0;
      stuck = false;
    },
    stuck: () => stuck,
  };
}

/**
 * Runs `fn` until it succeeds. Gives up only when the member is fenced (a
 * rejoin happened: the plan belongs to whoever owns the partitions now) or
 * stopping; the plan is then redone by the next reader, under the same token.
 * The fence is checked right before each attempt, in the same tick as the
 * call, so a commit never goes out under a generation that is not the write's.
 */
export async function untilDone(d: WriteDeps, op: string, fn: () => Promise<unknown>): Promise<WriteOutcome> {
  for (let attempt = 1; ; attempt++) {
    if (d.fenced()) return "fenced";
    try {
      await fn();
      d.health.succeeded();
      return "done";
    } catch (err) {
      d.health.failed(op, err);
      if (d.fenced()) return "fenced";
      if (d.stopping()) return "stopped";
      const delay = retryDelayMs(attempt, d.retry);
      d.metrics.retries.inc({ op });
      d.logger.warn({ op, attempt, delay_ms: delay, err }, "store or broker call failed, retrying");
      await sleep(delay);
    }
  }
}
