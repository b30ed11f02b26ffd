import { type BatchPolicy, flushReason } from "@tokenmeter/core";
import type { Redo } from "./redo.js";
import type { StagedRange, Staging } from "./staging.js";

/** What a member stores next: a recorded plan to redo, or a new batch of staged ranges. */
export type Work = { redo: Redo } | { ranges: StagedRange[] };

/**
 * The next write, one at a time and in order: a redo whose messages are all
 * collected comes first; else a batch of the staged partitions not held by a
 * redo, once the policy says so (or at once when stopping: store what was
 * read before leaving). Null: nothing to write yet.
 */
export function nextWork(
  redoOf: ReadonlyMap<number, Redo>,
  staging: Staging,
  policy: BatchPolicy,
  stopping: boolean,
  nowMs: number,
): Work | null {
  for (const redo of new Set(redoOf.values())) if (redo.complete()) return { redo };
  const excluded = new Set(redoOf.keys());
  const state = staging.state(excluded);
  if (state.rows === 0 || (!stopping && flushReason(state, nowMs, policy) === null)) return null;
  return { ranges: staging.take({ maxRows: policy.maxRows, exclude: excluded }) };
}
