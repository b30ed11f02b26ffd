import { mkdirSync } from "node:fs";
import type { Session } from "chdb";
import { isLostCreateRace, parseExceptionCode, storeErrorFromCode } from "./errors.js";
import {
  assertIdentifier,
  encodeParams,
  IDS_TABLE,
  type InsertOptions,
  type QueryParams,
  type Settings,
  type StatementOptions,
  type Store,
  StoreError,
  toJsonEachRow,
} from "./store.js";

export interface ChdbStoreOptions {
  /** Persistent data directory (created if missing). One process per directory. */
  dataDir: string;
  /** Database for unqualified names (created if missing). Default "tokenmeter". */
  database?: string;
  /**
   * Reader connections. A chDB connection runs one statement at a time, so
   * reads get their own connections and never wait behind a large insert.
   * Default 2.
   */
  readers?: number;
  /** Per-statement timeout in ms. Default 30 000. */
  timeoutMs?: number;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Session-level settings applied to every connection, so both drivers answer alike. */
const SESSION_SETTINGS: Settings = {
  output_format_json_quote_64bit_integers: 0,
  output_format_json_quote_decimals: 0,
};

/**
 * Store on the embedded ClickHouse engine (chDB). One writer connection for
 * inserts and DDL, `readers` connections for queries, all on one data dir.
 */
export class ChdbStore implements Store {
  /** Parameters go to the engine in memory, not in a URL. */
  readonly maxParamBytes = 64 * 1024 * 1024;
  private nextReader = 0;
  private closed = false;
  /** queryWithIds calls, one at a time: they share the ids session's temporary table. */
  private idsChain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly database: string,
    private readonly writer: Session,
    private readonly readers: Session[],
    /** Holds the temporary {@link IDS_TABLE} (a session's own), used by queryWithIds only. */
    private readonly ids: Session,
    private readonly timeoutMs: number,
  ) {}

  static async open(opts: ChdbStoreOptions): Promise<ChdbStore> {
    const database = assertIdentifier(opts.database ?? "tokenmeter");
    mkdirSync(opts.dataDir, { recursive: true });
    const timeoutMs = opts.timeoutMs ?? 30_000;
    // Loaded here, not at the top: the engine's library costs ~170 MB of RSS
    // the moment it loads, and the services on a server (HTTP driver) import
    // this package without ever opening the embedded engine.
    const { Session } = await import("chdb");
    const writer = new Session(opts.dataDir, { installSignalHandlers: false });
    const create = `CREATE DATABASE IF NOT EXISTS ${database}`;
    await run(() => writer.queryAsync(create, { timeout: timeoutMs })).catch((err: unknown) => {
      if (!isLostCreateRace(err, create)) throw err;
    });
    const readers = Array.from({ length: opts.readers ?? 2 }, () => new Session(opts.dataDir, { installSignalHandlers: false }));
    const ids = new Session(opts.dataDir, { installSignalHandlers: false });
    for (const s of [writer, ...readers, ids]) {
      await run(() => s.queryAsync(`USE ${database}`, { timeout: timeoutMs }));
      for (const [k, v] of Object.entries(SESSION_SETTINGS)) {
        await run(() => s.queryAsync(`SET ${assertIdentifier(k)} = ${Number(v)}`, { timeout: timeoutMs }));
      }
    }
    // Temporary: it lives as long as the session, and a killed process leaves nothing behind.
    await run(() => ids.queryAsync(`CREATE TEMPORARY TABLE ${IDS_TABLE} (id UUID) ENGINE = Memory`, { timeout: timeoutMs }));
    return new ChdbStore(database, writer, readers, ids, timeoutMs);
  }

  queryWithIds<T>(sql: string, params: QueryParams, ids: readonly string[], opts: StatementOptions = {}): Promise<T[]> {
    // Rows of TSV: an id with a tab or newline would be a different row (~10 ms per 200k ids).
    const bad = ids.find((id) => !UUID.test(id));
    if (bad !== undefined) {
      return Promise.reject(new StoreError("bad_request", `queryWithIds: not a UUID: ${JSON.stringify(bad.slice(0, 40))}`, false));
    }
    const next = this.idsChain.then(async () => {
      const timeout = opts.timeoutMs ?? this.timeoutMs;
      await run(() => this.ids.queryAsync(`TRUNCATE TABLE ${IDS_TABLE}`, { timeout }));
      if (ids.length > 0) {
        await run(() => this.ids.insert({ table: IDS_TABLE, values: `${ids.join("\n")}\n`, format: "TSV", timeout }));
      }
      const res = await execute(this.ids, withSettings(sql, opts.settings), params, { format: "JSONEachRow", timeout });
      return parseJsonEachRow<T>(res.text());
    });
    this.idsChain = next.catch(() => undefined);
    return next;
  }

  async query<T>(sql: string, params: QueryParams = {}, opts: StatementOptions = {}): Promise<T[]> {
    const session = this.readers[this.nextReader++ % this.readers.length] ?? this.writer;
    const res = await execute(session, withSettings(sql, opts.settings), params, {
      format: "JSONEachRow",
      timeout: opts.timeoutMs ?? this.timeoutMs,
    });
    return parseJsonEachRow<T>(res.text());
  }

  async insert(table: string, rows: readonly object[] | Buffer | string, opts: InsertOptions = {}): Promise<void> {
    const serialized = typeof rows === "string" || Buffer.isBuffer(rows);
    const values = serialized ? rows : toJsonEachRow(rows);
    if (values.length === 0) return;
    await run(() =>
      this.writer.insert({
        table: assertIdentifier(table),
        values,
        format: serialized ? (opts.format ?? "JSONEachRow") : "JSONEachRow",
        settings: opts.settings ?? {},
        timeout: opts.timeoutMs ?? this.timeoutMs,
      }),
    );
  }

  async command(sql: string, params: QueryParams = {}, opts: StatementOptions = {}): Promise<void> {
    await execute(this.writer, withSettings(sql, opts.settings), params, { timeout: opts.timeoutMs ?? this.timeoutMs });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.readers, this.ids, this.writer]) s.cleanup?.();
  }
}

function withSettings(sql: string, settings?: Settings): string {
  if (!settings || Object.keys(settings).length === 0) return sql;
  const list = Object.entries(settings)
    .map(([k, v]) => `${assertIdentifier(k)} = ${typeof v === "string" ? `'${v.replace(/[\\']/g, "\\$&")}'` : Number(v)}`)
    .join(", ");
  // On its own line, so a trailing `-- comment` in the statement cannot swallow it.
  return `${sql.replace(/;\s*$/, "")}\nSETTINGS ${list}`;
}

/**
 * The chdb binding runs every parameterized statement of the process on one
 * chain (its bind path is not thread-safe), so a statement without parameters
 * takes the unbound path and runs in parallel on its own connection.
 */
function execute(session: Session, sql: string, params: QueryParams, opts: { format?: string; timeout: number }) {
  if (Object.keys(params).length === 0) return run(() => session.queryAsync(sql, opts));
  return run(() => session.queryBindAsync(sql, encodeParams(params), opts));
}

function parseJsonEachRow<T>(text: string): T[] {
  const rows: T[] = [];
  for (const line of text.split("\n")) if (line.length > 0) rows.push(JSON.parse(line) as T);
  return rows;
}

/** Maps chDB's error classes onto StoreError so callers see one error type. */
async function run<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toStoreError(err);
  }
}

function toStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const e = err as { code?: string; message?: string; clickhouseCode?: number };
  const message = e?.message ?? String(err);
  switch (e?.code) {
    case "CHDB_TIMEOUT":
      return new StoreError("timeout", message, true, { cause: err });
    case "CHDB_BIND":
      return new StoreError("bad_request", message, false, { cause: err });
    case "CHDB_CLOSED":
      return new StoreError("unavailable", message, false, { cause: err });
    case "CHDB_CONNECTION":
      return new StoreError("unavailable", message, true, { cause: err });
  }
  return storeErrorFromCode(e?.clickhouseCode ?? parseExceptionCode(message), message, err);
}
