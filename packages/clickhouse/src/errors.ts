import { StoreError } from "./store.js";

/**
 * ClickHouse exception codes (`errorCodeToName`) both drivers classify the
 * same way, so a caller's retry decision does not depend on the driver.
 */
export const CH = {
  CANNOT_PARSE_TEXT: 6,
  BAD_ARGUMENTS: 36,
  TABLE_ALREADY_EXISTS: 57,
  UNKNOWN_TABLE: 60,
  SYNTAX_ERROR: 62,
  UNKNOWN_DATABASE: 81,
  DATABASE_ALREADY_EXISTS: 82,
  TIMEOUT_EXCEEDED: 159,
  AUTHENTICATION_FAILED: 516,
  TOO_MANY_SIMULTANEOUS_QUERIES: 202,
  SOCKET_TIMEOUT: 209,
  NETWORK_ERROR: 210,
  TOO_MANY_PARTS: 252,
} as const;

/**
 * Errors in the statement or its inputs: parse/type/unknown-name errors (the
 * server's HTTP 400 and 404 classes), auth and "already exists". Sending the
 * same statement again gives the same answer.
 */
const PERMANENT: ReadonlySet<number> = new Set([
  // 400 class: bad text, types, AST, arguments, parameters
  6, 8, 15, 16, 25, 26, 27, 36, 37, 38, 41, 42, 43, 44, 53, 72, 90, 117, 123, 167, 168, 184, 215, 223, 229, 321, 376, 427, 441, 456, 457,
  675, 676,
  // 404 class: unknown table, function, identifier, type, storage, database, setting, format…
  46, 47, 50, 56, 60, 63, 73, 78, 81, 115, 152, 336, 511,
  // not implemented / disabled / read-only user / already exists
  48, 164, 344, 57, 82,
  // auth: wrong user or password, access denied
  192, 193, 194, 497, 512, 516,
]);

/** Deadline codes: the statement may well succeed with more time or less load. */
const TIMEOUTS: ReadonlySet<number> = new Set([CH.TIMEOUT_EXCEEDED, CH.SOCKET_TIMEOUT]);

/** The server or its cluster is briefly unable to serve: retry after a pause. */
const UNAVAILABLE: ReadonlySet<number> = new Set([
  CH.TOO_MANY_SIMULTANEOUS_QUERIES,
  CH.NETWORK_ERROR,
  173, // CANNOT_ALLOCATE_MEMORY
  225, // NO_ZOOKEEPER
  236, // ABORTED
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY (replica lost its keeper session)
  279, // ALL_CONNECTION_TRIES_FAILED
  394, // QUERY_WAS_CANCELLED
  439, // CANNOT_SCHEDULE_TASK
  999, // KEEPER_EXCEPTION
]);

/**
 * Maps a ClickHouse exception code onto a StoreError. Unknown codes count as
 * retryable engine errors: a retry is bounded by the caller, while wrongly
 * giving up on a transient failure could lose a batch.
 */
export function storeErrorFromCode(code: number | undefined, message: string, cause?: unknown): StoreError {
  const opts = code === undefined ? { cause } : { cause, clickhouseCode: code };
  if (code === CH.SYNTAX_ERROR) return new StoreError("syntax", message, false, opts);
  if (code !== undefined && PERMANENT.has(code)) return new StoreError("bad_request", message, false, opts);
  if (code !== undefined && TIMEOUTS.has(code)) return new StoreError("timeout", message, true, opts);
  if (code !== undefined && UNAVAILABLE.has(code)) return new StoreError("unavailable", message, true, opts);
  // TOO_MANY_PARTS lands here on purpose: inserts outran merges, waiting helps.
  return new StoreError("engine", message, true, opts);
}

/** The leading `Code: 62.` of a ClickHouse exception text, if present. */
export function parseExceptionCode(message: string): number | undefined {
  const m = /\bCode: (\d+)\./.exec(message);
  return m ? Number(m[1]) : undefined;
}

/**
 * True when a `CREATE … IF NOT EXISTS` failed only because a concurrent
 * statement created the same object between its existence check and its
 * create: the state it asked for holds, so the caller can treat it as done.
 */
export function isLostCreateRace(err: unknown, sql: string): boolean {
  return (
    err instanceof StoreError &&
    (err.clickhouseCode === CH.TABLE_ALREADY_EXISTS || err.clickhouseCode === CH.DATABASE_ALREADY_EXISTS) &&
    /\bIF\s+NOT\s+EXISTS\b/i.test(sql)
  );
}
