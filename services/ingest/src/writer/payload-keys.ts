import { payloadLines, type RefusedRow } from "../dedup/bisect.js";
import { eventKey } from "../dedup/stored-ids.js";

// Event keys read back from the writer's own JSONEachRow payloads (a flush, or one redone from the journal).

/** Event keys of the refused rows of a JSONEachRow payload. */
export function refusedKeys(payload: Buffer, refused: readonly RefusedRow[]): Set<string> {
  if (refused.length === 0) return new Set();
  const { lines } = payloadLines(payload);
  const keys = new Set<string>();
  for (const r of refused) {
    try {
      const row = JSON.parse(lines[r.index]!.toString("utf8")) as { org_id: string; event_id: string };
      keys.add(eventKey(row.org_id, row.event_id));
    } catch {
      // Our own JSON.stringify output; unreadable only if the journal file was damaged: nothing to exempt then.
    }
  }
  return keys;
}

/** Event keys of a journaled JSONEachRow payload. */
export function keysOfPayload(payload: Buffer): Set<string> {
  const keys = new Set<string>();
  for (const line of payload.toString("utf8").split("\n")) {
    if (line.length === 0) continue;
    const row = JSON.parse(line) as { org_id: string; event_id: string };
    keys.add(eventKey(row.org_id, row.event_id));
  }
  return keys;
}
