/**
 * TEST DOUBLE for a ClickHouse *server*: a small HTTP server that speaks the
 * part of ClickHouse's HTTP interface @clickhouse/client uses, on top of the
 * real engine (chDB). It is not a mock: every statement runs on chDB, so
 * HttpStore is exercised over a real HTTP endpoint and real SQL semantics.
 * A ClickHouse server cannot be installed on these machines.
 *
 * Per request, like the real server: a fresh connection (a chDB Session on the
 * process's data directory), `USE <database>`, the request's settings and
 * `param_*` values applied to it, then the statement. Covered: GET/POST,
 * `query` in the URL and/or the body (an INSERT's data follows its query),
 * `database`, settings as URL parameters, `param_*` in the URL or a
 * multipart/form-data body, `default_format`, gzip request bodies, Basic auth /
 * X-ClickHouse-User / X-ClickHouse-Key, `/ping`, and errors with ClickHouse's
 * HTTP status mapping and `X-ClickHouse-Exception-Code`.
 * Not covered: sessions (`session_id`), compressed responses, progress headers,
 * external tables, cancelling a statement when its client disconnects.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { Session } from "chdb";

export interface ClickHouseHttpServerOptions {
  /** The process's chDB data directory (chDB allows only one per process). */
  dataDir: string;
  /** Accepted credentials. Default user "default" with an empty password. */
  username?: string;
  password?: string;
  /** Per-statement bound on the engine call, in ms. Default 60 000. */
  statementTimeoutMs?: number;
}

export interface ClickHouseHttpServer {
  url: string;
  /** Requests answered so far (lets tests see that traffic really went over HTTP). */
  readonly requests: number;
  close(): Promise<void>;
}

/** Room for the SET statement of the largest parameter a request may carry (a body is bounded by memory only). */
const MAX_PARAM_STATEMENT_BYTES = 256 * 1024 * 1024;

/** URL parameters the HTTP layer consumes; every other one is a setting. */
const RESERVED = new Set([
  "query",
  "database",
  "default_format",
  "query_id",
  "session_id",
  "session_timeout",
  "session_check",
  "user",
  "password",
  "quota_key",
  "role",
  "buffer_size",
  "wait_end_of_query",
  "compress",
  "decompress",
  "enable_http_compression",
]);

export async function startClickHouseHttpServer(opts: ClickHouseHttpServerOptions): Promise<ClickHouseHttpServer> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    handle(req, res, opts).catch((err) => sendError(res, 500, 1001, `Code: 1001. DB::Exception: ${String(err)}. (STD_EXCEPTION)`));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: ClickHouseHttpServerOptions): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const body = await readBody(req);
  // 1. Health endpoints answer without touching the engine.
  if (url.pathname === "/ping" || (url.pathname === "/" && req.method === "GET" && !url.searchParams.has("query"))) {
    res.writeHead(200, { "Content-Type": "text/html; charset=UTF-8" }).end("Ok.\n");
    return;
  }
  // 2. Credentials, as the server checks them before anything else.
  const user = credentials(req, url);
  if (user.name !== (opts.username ?? "default") || user.password !== (opts.password ?? "")) {
    const msg = `Code: 516. DB::Exception: ${user.name}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)`;
    sendError(res, 403, 516, msg);
    return;
  }
  // 3. Statement text, parameters and settings from the URL and the body.
  const params = new Map<string, string>(url.searchParams);
  let data: Buffer = body;
  const contentType = req.headers["content-type"] ?? "";
  if (contentType.startsWith("multipart/form-data")) {
    for (const [k, v] of parseMultipart(body, contentType)) params.set(k, v);
    data = Buffer.alloc(0);
  }
  const urlQuery = params.get("query") ?? "";
  const sql = urlQuery.length > 0 ? urlQuery : data.toString("utf8");
  if (urlQuery.length === 0) data = Buffer.alloc(0);
  const queryId = params.get("query_id") ?? randomUUID();
  const database = params.get("database") ?? header(req, "x-clickhouse-database") ?? "default";
  // 4. A fresh connection carries this request's context, like the server's per-request context.
  const session = new Session(opts.dataDir, { installSignalHandlers: false });
  try {
    const timeout = opts.statementTimeoutMs ?? 60_000;
    // A server binds param_* values apart from the statement's text, so max_query_size (256 KiB) does not
    // bound them; here each goes in as a SET statement, whose text must be allowed to hold it. A request's
    // own max_query_size, if it sends one, comes later and wins.
    const setup = [`USE ${quoteIdentifier(database)}`, `SET max_query_size = ${MAX_PARAM_STATEMENT_BYTES}`];
    for (const [k, v] of params) {
      if (k.startsWith("param_")) setup.push(`SET ${quoteIdentifier(k)} = ${quoteString(v)}`);
      else if (!RESERVED.has(k)) setup.push(`SET ${quoteIdentifier(k)} = ${settingValue(v)}`);
    }
    for (const stmt of setup) await session.queryAsync(stmt, { timeout });
    const result = await execute(session, sql, data, params.get("default_format") ?? "TabSeparated", timeout);
    res.writeHead(200, {
      "Content-Type": "text/plain; charset=UTF-8",
      "X-ClickHouse-Query-Id": queryId,
      "X-ClickHouse-Summary": JSON.stringify(result.summary),
    });
    res.end(result.body);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { clickhouseCode?: number }).clickhouseCode ?? Number(/Code: (\d+)\./.exec(message)?.[1] ?? 1001);
    sendError(res, httpStatusOf(code), code, message.startsWith("Code:") ? message : `Code: ${code}. DB::Exception: ${message}. (UNKNOWN)`);
  } finally {
    session.close();
  }
}

interface Executed {
  body: Buffer;
  summary: Record<string, string>;
}

/** An INSERT with data in the body goes through chDB's raw insert; anything else is one query. */
async function execute(session: Session, sql: string, data: Buffer, defaultFormat: string, timeout: number): Promise<Executed> {
  const insert =
    /^\s*INSERT\s+INTO\s+([A-Za-z_][\w.]*)\s*(?:\(([^)]*)\))?\s*FORMAT\s+(JSONEachRow|JSONCompactEachRow|CSV|TSV|TabSeparatedWithNames|TabSeparated)\s*$/is.exec(
      sql,
    );
  if (insert && data.length > 0) {
    const columns = insert[2]
      ?.split(",")
      .map((c) => c.trim())
      .filter(Boolean);
    const format = insert[3] as "JSONEachRow";
    const s = await session.insert({ table: insert[1] ?? "", values: data, format, ...(columns?.length ? { columns } : {}), timeout });
    return { body: Buffer.alloc(0), summary: summary(0, 0, s.rowsWritten, s.bytesWritten) };
  }
  const text = data.length > 0 ? `${sql}\n${data.toString("utf8")}` : sql;
  const r = await session.queryAsync(text, { format: defaultFormat, timeout });
  return { body: Buffer.from(r.bytes()), summary: summary(r.rowsRead, r.bytesRead, 0, 0) };
}

function summary(readRows: number, readBytes: number, writtenRows: number, writtenBytes: number): Record<string, string> {
  return {
    read_rows: String(readRows),
    read_bytes: String(readBytes),
    written_rows: String(writtenRows),
    written_bytes: String(writtenBytes),
    total_rows_to_read: String(readRows),
    result_rows: "0",
    result_bytes: "0",
  };
}

/** ClickHouse's exceptionCodeToHTTPStatus (src/Server/HTTP), by code number. */
function httpStatusOf(code: number): number {
  if (code === 194) return 401;
  if ([192, 193, 516, 512, 497].includes(code)) return 403;
  const badRequest = [36, 427, 6, 25, 26, 38, 41, 72, 441, 675, 676, 27, 376, 15, 44, 37, 123, 8, 167, 168, 223, 62, 117, 53, 321];
  if (badRequest.includes(code)) return 400;
  if ([60, 46, 47, 50, 56, 81, 115, 152, 63, 73, 336, 78, 511].includes(code)) return 404;
  if (code === 229) return 413;
  if (code === 48) return 501;
  if (code === 209 || code === 76 || code === 439) return 503;
  if (code === 381) return 411;
  if (code === 159) return 408;
  if (code === 779) return 415;
  return 500;
}

function sendError(res: ServerResponse, status: number, code: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { "Content-Type": "text/plain; charset=UTF-8", "X-ClickHouse-Exception-Code": String(code) });
  res.end(`${message}\n`);
}

function credentials(req: IncomingMessage, url: URL): { name: string; password: string } {
  const auth = req.headers.authorization;
  if (auth?.startsWith("Basic ")) {
    const decoded = Buffer.from(auth.slice(6), "base64").toString("utf8");
    const i = decoded.indexOf(":");
    return { name: decoded.slice(0, i), password: decoded.slice(i + 1) };
  }
  return {
    name: header(req, "x-clickhouse-user") ?? url.searchParams.get("user") ?? "default",
    password: header(req, "x-clickhouse-key") ?? url.searchParams.get("password") ?? "",
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw;
}

/** The multipart/form-data the client sends for large parameters: named text parts only. */
function parseMultipart(body: Buffer, contentType: string): Array<[string, string]> {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  const delimiter = `--${boundary?.[1] ?? boundary?.[2] ?? ""}`;
  const out: Array<[string, string]> = [];
  for (const part of body.toString("utf8").split(delimiter)) {
    const sep = part.indexOf("\r\n\r\n");
    if (sep < 0) continue;
    const name = /name="([^"]+)"/.exec(part.slice(0, sep))?.[1];
    if (name) out.push([name, part.slice(sep + 4).replace(/\r\n$/, "")]);
  }
  return out;
}

/** The value as a SQL string literal: the engine reads back exactly the bytes the client sent. */
function quoteString(v: string): string {
  return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

function settingValue(v: string): string {
  return /^-?\d+(\.\d+)?$/.test(v) ? v : quoteString(v);
}

function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, "\\\\").replace(/`/g, "\\`")}\``;
}
