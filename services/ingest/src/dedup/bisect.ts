import { isDataError } from "@tokenmeter/clickhouse";
import type { FieldError } from "@tokenmeter/core";
import type { Logger } from "pino";

/** A row the engine refused: its index in the insert's rows, and the engine's reason. */
export interface RefusedRow {
  index: number;
  reason: string;
}

/** Most inserts one batch's split may take: well inside the deduplication window of 1,000 blocks a redo relies on. */
export const MAX_SPLIT_INSERTS = 400;

/** The split gave up (see {@link MAX_SPLIT_INSERTS}); not a data error, so nothing splits it further. */
export class TooManyRefusedError extends Error {
  override readonly name = "TooManyRefusedError";
  readonly retryable = false;
}

/** A range [lo, hi) of a `rows`-row insert was refused and is being split (for the log). */
export type SplitListener = (split: { lo: number; hi: number; rows: number; reason: string }) => void;

/** Inserts rows [lo, hi) of a batch under `token`; throws what the store threw. */
export type RangeInsert = (lo: number, hi: number, token: string) => Promise<void>;

/**
 * Inserts `rows` rows as ONE insert under `token`; if the engine refuses a
 * row (a data error, isDataError), splits the range at its midpoint and
 * inserts each half the same way, down to single rows, which are the ones
 * refused. Every other error is thrown as it is (unavailable, timeout: the
 * caller retries), so one tenant's bad row never fails another's batch.
 *
 * Exactly-once across a crash mid-split: the split points depend only on the
 * row count, and a half's token only on the batch token and its row range
 * (`<token>/<lo>-<hi>`), never on the engine's message or the clock. The
 * same rows inserted again (a retry, or a redo after SIGKILL from the
 * journal or the recorded Kafka plan) split into exactly the same inserts
 * under the same tokens, so a half stored before the crash is a no-op the
 * second time. A refused insert stores nothing (packages/clickhouse
 * errors.ts), so the whole-batch token is never partly spent.
 *
 * Cost: about 2·log2(rows) inserts per refused row (~29 for a 20,000-row
 * batch, ~35 for 200,000). Bounded by {@link MAX_SPLIT_INSERTS}: a redo must
 * replay every part inside the table's deduplication window (1,000 blocks),
 * and an engine refusing row after row is refusing the statement (a schema
 * or type mismatch), which no split repairs: past the bound the batch fails
 * as a whole, as any non-retryable store error does.
 */
export async function insertSplitting(rows: number, token: string, insert: RangeInsert, onSplit?: SplitListener): Promise<RefusedRow[]> {
  const refused: RefusedRow[] = [];
  let inserts = 0;
  async function attempt(lo: number, hi: number, tok: string): Promise<void> {
    if (++inserts > MAX_SPLIT_INSERTS) {
      throw new TooManyRefusedError(
        `the engine refused rows through ${MAX_SPLIT_INSERTS} inserts of one batch (${refused.length} rows so far): not a bad row but a bad statement`,
      );
    }
    try {
      await insert(lo, hi, tok);
    } catch (err) {
      if (!isDataError(err)) throw err;
      if (hi - lo === 1) {
        refused.push({ index: lo, reason: engineReason(err.message) });
        return;
      }
      const mid = lo + Math.ceil((hi - lo) / 2);
      onSplit?.({ lo, hi, rows, reason: engineReason(err.message) });
      await attempt(lo, mid, `${token}/${lo}-${mid}`);
      await attempt(mid, hi, `${token}/${mid}-${hi}`);
    }
  }
  if (rows > 0) await attempt(0, rows, token);
  return refused;
}

/** The engine's message without its pipeline trailer (`: While executing …`), bounded for headers and responses. */
export function engineReason(message: string): string {
  const head = message.split("\n")[0]!.trim();
  return head.length > 500 ? `${head.slice(0, 497)}...` : head;
}

/**
 * A refused row as a per-item error: the field the engine names ("while
 * reading the value of key session_id", or "column session_id") as the
 * path, else `(event)`; the engine's message as the reason.
 */
export function refusalError(reason: string): FieldError {
  const field = /\b(?:value of key|column) [`'"]?([A-Za-z0-9_.]+)/.exec(reason)?.[1];
  return { path: field ?? "(event)", message: `refused by the store: ${reason}` };
}

/** The rows of a line-per-row payload (JSONEachRow, or TSV after `headerLines`), each with its newline. */
export function payloadLines(payload: Buffer, headerLines = 0): { header: Buffer; lines: Buffer[] } {
  const lines: Buffer[] = [];
  let at = 0;
  let header: Buffer = Buffer.alloc(0);
  for (let skipped = 0; at < payload.length; ) {
    const nl = payload.indexOf(0x0a, at);
    const end = nl < 0 ? payload.length : nl + 1;
    if (skipped < headerLines) {
      header = payload.subarray(0, end);
      skipped++;
    } else lines.push(payload.subarray(at, end));
    at = end;
  }
  return { header, lines };
}

/**
 * {@link insertSplitting} over a line-per-row payload: the whole payload
 * first, then concatenations of line ranges (after the header). Both writers
 * use it for first attempts and redos alike, so both split the same bytes.
 */
export function insertLinesSplitting(
  payload: Buffer,
  token: string,
  headerLines: number,
  insert: (payload: Buffer, token: string) => Promise<void>,
  onSplit?: SplitListener,
): Promise<RefusedRow[]> {
  const { header, lines } = payloadLines(payload, headerLines);
  return insertSplitting(
    lines.length,
    token,
    (lo, hi, tok) => insert(lo === 0 && hi === lines.length ? payload : Buffer.concat([header, ...lines.slice(lo, hi)]), tok),
    onSplit,
  );
}

/** Logs a split: the whole batch's first one at info (an operator wants to know), the rest at debug. */
export function logSplits(log: Logger, op: string): SplitListener {
  return ({ lo, hi, rows, reason }) => {
    if (lo === 0 && hi === rows) log.info({ op, split: true, rows, reason }, "engine refused a row; splitting the batch to set it aside");
    else log.debug({ op, split: true, lo, hi }, "splitting");
  };
}
