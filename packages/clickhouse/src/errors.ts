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
 * The engine refused a VALUE of an insert's data: a row it cannot parse or
 * store (a lone surrogate in a JSON string is 25, a bad date 41, a bad UUID
 * 376, a number out of range 321…). Another row of the same insert is not at
 * fault, so a writer splits the insert to set the offending rows aside
 * instead of failing (or retrying) the whole batch; an insert refused this
 * way stored nothing (one block per insert: nothing is written before the
 * whole payload parsed, checked on chDB 26.7 with a bad row at 40,001 of
 * 50,000). Statement errors (unknown table, syntax, bad parameter) are not
 * here: every row would fail them alike.
 */
const ROW_DATA: ReadonlySet<number> = new Set([
  6, // CANNOT_PARSE_TEXT
  19, // SIZE_OF_FIXED_STRING_DOESNT_MATCH
  25, // CANNOT_PARSE_ESCAPE_SEQUENCE
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  131, // TOO_LARGE_STRING_SIZE
  321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  376, // CANNOT_PARSE_UUID
  407, // DECIMAL_OVERFLOW
  441, // CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING
  675, // CANNOT_PARSE_IPV4
  676, // CANNOT_PARSE_IPV6
  691, // UNKNOWN_ELEMENT_OF_ENUM
]);

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
  if (code !== undefined && ROW_DATA.has(code)) return new StoreError("data", message, false, opts);
  if (code !== undefined && PERMANENT.has(code)) return new StoreError("bad_request", message, false, opts);
  if (code !== undefined && TIMEOUTS.has(code)) return new StoreError("timeout", message, true, opts);
  if (code !== undefined && UNAVAILABLE.has(code)) return new StoreError("unavailable", message, true, opts);
  // TOO_MANY_PARTS lands here on purpose: inserts outran merges, waiting helps.
  return new StoreError("engine", message, true, opts);
}

/**
 * True when the engine refused a value of an insert's rows ({@link ROW_DATA}):
 * the one test the writers use to split a batch rather than fail it whole.
 * An unavailable or timed-out store is never a data error.
 */
export function isDataError(err: unknown): err is StoreError {
  return err instanceof StoreError && err.code === "data";
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
