import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { type ClickHouseClient, ClickHouseError, ClickHouseLogLevel, type ClickHouseSettings, createClient } from "@clickhouse/client";
import { isLostCreateRace, parseExceptionCode, storeErrorFromCode } from "./errors.js";
import {
  assertIdentifier,
  encodeParams,
  type InsertOptions,
  type QueryParams,
  type Settings,
  type StatementOptions,
  type Store,
  StoreError,
  toJsonEachRow,
} from "./store.js";

export interface HttpStoreOptions {
  /** Server URL, e.g. `http://clickhouse:8123`. */
  url: string;
  /** Default "default". */
  username?: string;
  /** Default "". */
  password?: string;
  /** Database for unqualified names (created if missing). Default "tokenmeter". */
  database?: string;
  /** Per-statement timeout in ms, also bounding `open`. Default 30 000. */
  timeoutMs?: number;
  /** Sockets kept to the server (concurrent statements). Default 10. */
  maxConnections?: number;
}

/**
 * Answers exactly like ChdbStore: 64-bit integers and decimals as JSON
 * numbers. Callers that need more than 2^53 must cast to String in SQL.
 */
const BASE_SETTINGS: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 0,
  output_format_json_quote_decimals: 0,
};

/**
 * The client's own socket timeout is only a backstop: each statement is
 * bounded by its own abort timer, which may be longer than the default (an
 * OPTIMIZE, a backfill) and would otherwise be cut at the socket level.
 */
const SOCKET_BACKSTOP_MS = 3_600_000;

/** Store on a ClickHouse server through its HTTP interface (@clickhouse/client). */
export class HttpStore implements Store {
  private closed = false;

  private constructor(
    readonly database: string,
    private readonly client: ClickHouseClient,
    private readonly timeoutMs: number,
  ) {}

  /** Connects, creates the database if missing, and returns a store bound to it. */
  static async open(opts: HttpStoreOptions): Promise<HttpStore> {
    const database = assertIdentifier(opts.database ?? "tokenmeter");
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const base = {
      url: opts.url,
      username: opts.username ?? "default",
      password: opts.password ?? "",
      request_timeout: Math.max(timeoutMs, SOCKET_BACKSTOP_MS),
      max_open_connections: opts.maxConnections ?? 10,
      // Large Array parameters (a batch's event_ids) move to a multipart body
      // instead of a URL that proxies and the server's URI limit would refuse.
      use_multipart_params_auto: true,
      clickhouse_settings: BASE_SETTINGS,
      // Failures reach the caller as StoreError; the client's own console logging would only duplicate them.
      log: { level: ClickHouseLogLevel.OFF },
    };
    // 1. The database may not exist yet, so create it through a client bound to "default".
    const bootstrap = new HttpStore("default", createClient(base), timeoutMs);
    try {
      const create = `CREATE DATABASE IF NOT EXISTS ${database}`;
      await bootstrap.command(create).catch((err: unknown) => {
        if (!isLostCreateRace(err, create)) throw err;
      });
    } finally {
      await bootstrap.close();
    }
    // 2. Every later statement resolves unqualified names in `database`.
    return new HttpStore(database, createClient({ ...base, database }), timeoutMs);
  }

  async query<T>(sql: string, params: QueryParams = {}, opts: StatementOptions = {}): Promise<T[]> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    return this.bounded(timeoutMs, async (abort_signal) => {
      const rs = await this.client.query({
        query: sql,
        format: "JSONEachRow",
        query_params: encodeParams(params),
        clickhouse_settings: {
          // The server stops work the caller stopped waiting for, and buffers
          // the result so a late error arrives as an error status, not a torn body.
          max_execution_time: Math.max(1, Math.ceil(timeoutMs / 1000)),
          wait_end_of_query: 1,
          ...toClickHouseSettings(opts.settings),
        },
        abort_signal,
      });
      return await rs.json<T>();
    });
  }

  async insert(table: string, rows: readonly object[] | Buffer | string, opts: InsertOptions = {}): Promise<void> {
    // One path for every input: the client only streams JSON formats in object
    // mode, which would re-encode an already serialized batch row by row.
    const serialized = typeof rows === "string" || Buffer.isBuffer(rows);
    const payload = serialized ? rows : toJsonEachRow(rows);
    if (payload.length === 0) return;
    const format = serialized ? (opts.format ?? "JSONEachRow") : "JSONEachRow";
    await this.bounded(opts.timeoutMs ?? this.timeoutMs, async (abort_signal) => {
      const res = await this.client.exec({
        query: `INSERT INTO ${assertIdentifier(table)} FORMAT ${format}`,
        values: Readable.from([payload], { objectMode: false }),
        clickhouse_settings: toClickHouseSettings(opts.settings),
        abort_signal,
      });
      // The answer is empty; reading it to the end frees the socket for reuse.
      res.stream.resume();
      await finished(res.stream);
    });
  }

  async command(sql: string, params: QueryParams = {}, opts: StatementOptions = {}): Promise<void> {
    await this.bounded(opts.timeoutMs ?? this.timeoutMs, async (abort_signal) => {
      await this.client.command({
        query: sql,
        query_params: encodeParams(params),
        clickhouse_settings: toClickHouseSettings(opts.settings),
        abort_signal,
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }

  /** Runs one HTTP call under its own deadline and maps every failure onto StoreError. */
  private async bounded<T>(timeoutMs: number, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreError("unavailable", "store is closed", false);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      return await call(controller.signal);
    } catch (err) {
      if (controller.signal.aborted) {
        throw new StoreError("timeout", `statement timed out after ${timeoutMs} ms`, true, { cause: err });
      }
      throw toStoreError(err);
    } finally {
      clearTimeout(timer);
    }
  }
}

function toClickHouseSettings(settings: Settings | undefined): ClickHouseSettings {
  return (settings ?? {}) as ClickHouseSettings;
}

/** Socket-level failures: the server was unreachable or the connection broke. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNABORTED",
]);

/**
 * The client throws ClickHouseError when the server's exception text parses,
 * a plain Error with the response body when it does not, and Node's socket
 * errors otherwise. It does not expose the HTTP status of a failed response,
 * so a body without a ClickHouse code (a proxy's 502/503/504 page) counts as
 * the server being unavailable.
 */
function toStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ClickHouseError) return storeErrorFromCode(Number(err.code), message, err);
  const sysCode = (err as { code?: unknown }).code;
  if (typeof sysCode === "string" && NETWORK_CODES.has(sysCode)) {
    return new StoreError("unavailable", message, true, { cause: err });
  }
  if (message === "Timeout error.") return new StoreError("timeout", message, true, { cause: err });
  const code = parseExceptionCode(message);
  if (code !== undefined) return storeErrorFromCode(code, message, err);
  return new StoreError("unavailable", message, true, { cause: err });
}
