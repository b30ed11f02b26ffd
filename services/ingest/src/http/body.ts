import { isUtf8 } from "node:buffer";
import type { FieldError } from "@tokenmeter/core";
import { ApiError } from "@tokenmeter/http";
import { jsonErrorPosition } from "./json-position.js";

/** One item of a request body: decoded JSON, or why its NDJSON line could not be decoded. */
export type BodyItem = { ok: true; value: unknown } | { ok: false; error: FieldError };

/** The client hung up before its body was complete: its doing, not ours (logged at info, never answered with a 5xx). */
export class BodyAbortedError extends Error {
  override readonly name = "BodyAbortedError";
}

/**
 * Reads the request body, refusing more than `limit` bytes: a Content-Length
 * over the limit is refused before reading, and a body that runs past the
 * limit (chunked, or lying about its length) is cut off at the limit, so
 * memory per request stays bounded.
 */
export async function readBodyLimited(req: Request, limit: number): Promise<string> {
  return (await readBodyBytes(req, limit)).toString("utf8");
}

/** {@link readBodyLimited}, as bytes (to check them for UTF-8 before decoding). */
export async function readBodyBytes(req: Request, limit: number): Promise<Buffer> {
  const tooLarge = (got: string) => new ApiError("payload_too_large", `request body over ${limit} bytes (${got})`, { max_bytes: limit });
  const declared = Number(req.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) throw tooLarge(`Content-Length ${declared}`);
  if (!req.body) return Buffer.alloc(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (err) {
      throw new BodyAbortedError(`request body cut off after ${total} bytes: ${(err as Error).message}`);
    }
    const { done, value } = next;
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(`more than ${limit} read`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/**
 * Lines (0-based, split at `\n`) holding bytes that are not UTF-8. Decoding
 * would replace them with U+FFFD and store text the client never sent, so
 * such a line is rejected (NDJSON) or the whole document is (JSON). A `\n`
 * byte is never part of a multi-byte sequence, so these are the decoded
 * text's lines too.
 */
export function invalidUtf8Lines(body: Buffer): Set<number> {
  const bad = new Set<number>();
  if (isUtf8(body)) return bad;
  let line = 0;
  for (let at = 0; at <= body.length; line++) {
    const nl = body.indexOf(0x0a, at);
    const end = nl < 0 ? body.length : nl;
    if (!isUtf8(body.subarray(at, end))) bad.add(line);
    if (nl < 0) break;
    at = nl + 1;
  }
  return bad;
}

/**
 * Splits a body into items. `application/x-ndjson` (or `jsonlines`) is one
 * event per line; otherwise the body is one JSON document (an array of
 * events or one event), and if it is not, a body whose first line is a
 * complete JSON object is taken as NDJSON sent with a generic content type.
 */
export function parseEventsBody(text: string, contentType: string, notUtf8: ReadonlySet<number> = NONE): BodyItem[] {
  if (/ndjson|jsonl|json-seq|jsonlines/i.test(contentType)) return parseNdjson(text, notUtf8);
  const trimmed = text.trim();
  if (trimmed === "") return [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    if (trimmed.startsWith("{") && looksLikeNdjson(trimmed)) return parseNdjson(text, notUtf8);
    const where = jsonErrorPosition(text);
    throw new ApiError("invalid_json", `malformed JSON at line ${where.line} column ${where.column}: ${(err as Error).message}`, where);
  }
  if (notUtf8.size > 0) {
    const line = Math.min(...notUtf8) + 1;
    throw new ApiError("invalid_json", `body is not valid UTF-8 (first at line ${line}); send text as UTF-8`, { line });
  }
  if (Array.isArray(doc)) return doc.map((value) => ({ ok: true, value }));
  if (doc !== null && typeof doc === "object") return [{ ok: true, value: doc }];
  throw new ApiError("bad_request", "body must be a JSON array of events, one event object, or NDJSON");
}

const NONE: ReadonlySet<number> = new Set();

function looksLikeNdjson(trimmed: string): boolean {
  const end = trimmed.indexOf("\n");
  if (end < 0) return false;
  try {
    JSON.parse(trimmed.slice(0, end));
    return true;
  } catch {
    return false;
  }
}

/** Each non-blank line is one item; its index counts items, not blank lines. */
function parseNdjson(text: string, notUtf8: ReadonlySet<number>): BodyItem[] {
  const items: BodyItem[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") return;
    if (notUtf8.has(i)) {
      items.push({ ok: false, error: { path: "(line)", message: `line ${i + 1}: not valid UTF-8` } });
      return;
    }
    try {
      items.push({ ok: true, value: JSON.parse(line) });
    } catch (err) {
      const where = jsonErrorPosition(line);
      items.push({
        ok: false,
        error: { path: "(line)", message: `line ${i + 1}: malformed JSON at column ${where.column}: ${(err as Error).message}` },
      });
    }
  });
  return items;
}
