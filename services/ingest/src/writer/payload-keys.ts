import { tsvUnescape } from "@tokenmeter/core";
import { payloadLines, type RefusedRow } from "../dedup/bisect.js";
import { eventKey } from "../dedup/stored-ids.js";

// The writer's own payloads read back (a flush, or one redone from the journal): how to insert them, and their keys.

/**
 * How a payload is inserted. The writer writes llm_usage TSV lines after a header of column names; a journal left
 * by a version before that holds JSONEachRow lines (a row object starts with "{", a header with "event_id"), and is
 * redone as it was written, under its own token.
 */
export interface PayloadShape {
  format: "TabSeparatedWithNames" | "JSONEachRow";
  headerLines: 0 | 1;
}

export function payloadShape(payload: Buffer): PayloadShape {
  return payload[0] === 0x7b ? { format: "JSONEachRow", headerLines: 0 } : { format: "TabSeparatedWithNames", headerLines: 1 };
}

/** The event key of one row line: event_id is the first TSV field and org_id the third (USAGE_TSV_COLUMNS). */
function keyOfLine(line: string, shape: PayloadShape): string {
  if (shape.format === "JSONEachRow") {
    const row = JSON.parse(line) as { org_id: string; event_id: string };
    return eventKey(row.org_id, row.event_id);
  }
  const fields = line.split("\t", 3);
  return eventKey(tsvUnescape(fields[2] ?? ""), fields[0] ?? "");
}

/** Event keys of the refused rows of a payload. */
export function refusedKeys(payload: Buffer, refused: readonly RefusedRow[]): Set<string> {
  if (refused.length === 0) return new Set();
  const shape = payloadShape(payload);
  const { lines } = payloadLines(payload, shape.headerLines);
  const keys = new Set<string>();
  for (const r of refused) {
    try {
      keys.add(keyOfLine(lines[r.index]!.toString("utf8"), shape));
    } catch {
      // Our own output; unreadable only if the journal file was damaged: nothing to exempt then.
    }
  }
  return keys;
}

/** Event keys of a journaled payload. */
export function keysOfPayload(payload: Buffer): Set<string> {
  const shape = payloadShape(payload);
  const keys = new Set<string>();
  for (const line of payloadLines(payload, shape.headerLines).lines) {
    const text = line.toString("utf8").replace(/\n$/, "");
    if (text.length > 0) keys.add(keyOfLine(text, shape));
  }
  return keys;
}
