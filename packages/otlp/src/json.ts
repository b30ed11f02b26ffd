import { normalizeExport } from "./normalize.js";
import type { ExportResult } from "./protobuf.js";
import { type DecodedExport, OtlpDecodeError } from "./span.js";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Decodes an `application/json` OTLP export (ids as hex, int64 as number or
 * string). Bytes that are not UTF-8 are refused, never turned into U+FFFD.
 */
export function decodeJsonExport(body: string | Uint8Array): DecodedExport {
  let text: string;
  try {
    text = typeof body === "string" ? body : utf8.decode(body);
  } catch {
    throw new OtlpDecodeError("body is not valid UTF-8");
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new OtlpDecodeError(`not valid JSON: ${(err as Error).message}`);
  }
  return normalizeExport(doc);
}

/**
 * ExportTraceServiceResponse as OTLP/JSON. `rejectedSpans` is an int64, which
 * the protobuf JSON mapping writes as a string; receivers must accept both,
 * and a number is what JSON clients compare against, so it is sent as one.
 */
export function jsonResponse(r: ExportResult): object {
  return r.rejectedSpans > 0 || r.errorMessage ? { partialSuccess: { rejectedSpans: r.rejectedSpans, errorMessage: r.errorMessage } } : {};
}
