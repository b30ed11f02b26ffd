/**
 * Values bound to `{name:Type}` placeholders; never interpolated into SQL text.
 * Strings, numbers, arrays and plain objects (for `Map`) bind as they are; a
 * `Date` binds as a Unix timestamp (with milliseconds when non-zero), which
 * both `DateTime` and `DateTime64(…)` placeholders read regardless of the
 * server's time zone. Bind a `Date` column with a `'YYYY-MM-DD'` string.
 */
export type QueryParams = Record<string, unknown>;
/** ClickHouse settings for one statement (e.g. insert_deduplication_token). */
export type Settings = Record<string, string | number | boolean>;

export interface StatementOptions {
  settings?: Settings;
  /** Gives up after this many ms (default: the store's timeout). */
  timeoutMs?: number;
}

/** Text formats a pre-serialized insert payload may be in. */
export type InsertFormat = "JSONEachRow" | "TabSeparatedWithNames";

export interface InsertOptions extends StatementOptions {
  /** Format of a payload passed as a string or Buffer (default JSONEachRow; objects are always sent as JSONEachRow). */
  format?: InsertFormat;
}

/** The table a {@link Store.queryWithIds} statement reads its ids from (column `id UUID`). */
export const IDS_TABLE = "tm_ids";

/** Parameter bytes per statement assumed when a store does not say (under a server's 1 MiB URL limit). */
export const DEFAULT_MAX_PARAM_BYTES = 800_000;

/**
 * The storage port: the only way services reach ClickHouse. Two drivers
 * implement it, ChdbStore (embedded engine) and HttpStore (a server), and both
 * pass one conformance suite.
 */
export interface Store {
  /** Database every unqualified table name resolves to. */
  readonly database: string;
  /**
   * Most bytes of query parameters one statement may carry, for callers that
   * split large id lists: a server reads them from the URL (HttpStore keeps
   * under ClickHouse's 1 MiB http_max_uri_size); the embedded engine has no
   * such limit. Absent: {@link DEFAULT_MAX_PARAM_BYTES}.
   */
  readonly maxParamBytes?: number;
  /** Runs a SELECT and returns its rows (64-bit integers as JSON numbers). */
  query<T = Record<string, unknown>>(sql: string, params?: QueryParams, opts?: StatementOptions): Promise<T[]>;
  /**
   * Runs a SELECT that reads `ids` (UUIDs) as the table {@link IDS_TABLE} (one
   * column, `id UUID`), sent the way inserted rows are rather than as a
   * parameter. Optional: the embedded engine has it, where a batch's 200k ids
   * cost ~150 ms to bind as a parameter (and past 65,536 elements an
   * Array(UUID) parameter falls off a cliff) but ~30 ms as rows; callers
   * without it pass the ids as parameters.
   */
  queryWithIds?<T = Record<string, unknown>>(
    sql: string,
    params: QueryParams,
    ids: readonly string[],
    opts?: StatementOptions,
  ): Promise<T[]>;
  /**
   * Inserts rows in one INSERT statement: objects, or a payload that is already
   * serialized (the writers' path, no re-encoding) in `opts.format`.
   */
  insert(table: string, rows: readonly object[] | Buffer | string, opts?: InsertOptions): Promise<void>;
  /** Runs DDL or any statement without a result set. */
  command(sql: string, params?: QueryParams, opts?: StatementOptions): Promise<void>;
  close(): Promise<void>;
}

/**
 * `data`: the engine refused a value of the rows (not retryable; splitting the
 * rows isolates it, see isDataError); `bad_request`/`syntax`: the statement
 * itself; `timeout`/`unavailable`/`engine`: retry may help.
 */
export type StoreErrorCode = "timeout" | "syntax" | "bad_request" | "data" | "unavailable" | "engine";

/** A failed store call; `retryable` says whether trying the same call again can help. */
export class StoreError extends Error {
  override readonly name = "StoreError";
  /** ClickHouse's exception code (e.g. 60 for UNKNOWN_TABLE) when the engine reported one. */
  readonly clickhouseCode?: number;
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown; clickhouseCode?: number },
  ) {
    super(message, options);
    if (options?.clickhouseCode !== undefined) this.clickhouseCode = options.clickhouseCode;
  }
}

/** Serializes rows as JSONEachRow (one JSON object per line). */
export function toJsonEachRow(rows: readonly object[]): string {
  let out = "";
  for (const r of rows) out += `${JSON.stringify(r)}\n`;
  return out;
}

/** Table and database names are identifiers, not parameters: allow only safe ones. */
export function assertIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(name)) {
    throw new StoreError("bad_request", `invalid identifier ${JSON.stringify(name)}`, false);
  }
  return name;
}

/** Encodes the values drivers cannot pass as they are (see {@link QueryParams}). */
export function encodeParams(params: QueryParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    out[k] = v instanceof Date ? toUnixTimestamp(v) : typeof v === "boolean" ? Number(v) : v;
  }
  return out;
}

function toUnixTimestamp(d: Date): string {
  const ms = d.getTime();
  if (Number.isNaN(ms)) throw new StoreError("bad_request", "invalid Date parameter", false);
  const seconds = Math.floor(ms / 1000);
  const frac = ms - seconds * 1000;
  return frac === 0 ? String(seconds) : `${seconds}.${String(frac).padStart(3, "0")}`;
}
