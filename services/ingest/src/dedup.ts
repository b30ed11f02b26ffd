import { createHash } from "node:crypto";
import type { Store } from "@tokenmeter/clickhouse";
import { toClickHouseTime } from "@tokenmeter/core";

/**
 * DESIGN: a producer re-sending an event_id "within 24 h" must count once, so
 * by default the stored-id lookup searches the batch's event_time range
 * widened by a day each side: a re-send carries the same event_time, the
 * widening covers producers that re-stamp it on retry.
 *
 * Cost: the lookup reads event_id for every row of the org in that range
 * (the bloom filter cannot skip granules for thousands of random ids: each
 * 32k-row block matches some at 1 % false positives). Measured ≈ 60 ms per
 * 20k-id batch against 2M rows in range on chDB, growing linearly; so at a
 * sustained 60k events/s (≈ 10B rows a day) the window dominates after a few
 * minutes. A window of 0 searches the batch's own range only, which is a few
 * granules for live traffic and still catches every same-payload re-send.
 */
export const DEDUP_WINDOW_MS = 24 * 60 * 60 * 1000;

/** One event identity: event_id within its org, so one tenant can never suppress another's events. */
export function eventKey(org_id: string, event_id: string): string {
  return `${org_id}\u0000${event_id.toLowerCase()}`;
}

/**
 * insert_deduplication_token for one flush: SHA-256 of its event keys in order.
 * The same batch retried (or rebuilt after a restart) gets the same token, so
 * ClickHouse drops the repeat in llm_usage and in every MV-fed rollup.
 */
export function dedupToken(keys: readonly string[]): string {
  const h = createHash("sha256");
  for (const k of keys) h.update(k).update("\n");
  return `tm1-${h.digest("hex")}`;
}

/**
 * How a lookup passes its event_ids: the first 13 characters of each (48
 * bits: the first group and the second, lower case), '_'-joined into one
 * String parameter and split in SQL. What the statement returns is a superset
 * (a stored row whose id merely shares the prefix); callers match the full
 * (org_id, event_id) key, so a false match costs one row, never a wrong answer
 * (~2 per 100k-id lookup against 5 billion rows in the window).
 *
 * Why not `{ids:Array(UUID)}`: on chDB binding costs ~4 µs per id, and an
 * array past 65,536 elements falls off a cliff (67k ids: 76 s instead of
 * 0.2 s); the prefix string costs ~1.8 µs per id, linearly (measured on chDB
 * 26.7, 2 M rows in the window, docs/benchmarks.md §6).
 */
export const EVENT_ID_IN_LIST = "substring(toString(event_id), 1, 13) IN (SELECT arrayJoin(splitByChar('_', {ids:String})))";

/**
 * Most ids per lookup statement: a ClickHouse server takes parameters in the
 * URL (http_max_uri_size 1 MiB by default); 50,000 prefixes are ~700 KB.
 */
export const MAX_IDS_PER_LOOKUP = 50_000;

/** A batch's ids as the `ids` parameters of successive lookups (see {@link EVENT_ID_IN_LIST}). */
export function idChunks(ids: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i += MAX_IDS_PER_LOOKUP) {
    out.push(
      ids
        .slice(i, i + MAX_IDS_PER_LOOKUP)
        .map((id) => id.slice(0, 13).toLowerCase())
        .join("_"),
    );
  }
  return out;
}

/**
 * Which of these events are already stored. org_id leads the ORDER BY and
 * event_time follows, so the primary index narrows to the orgs' time slice;
 * the bloom filter on event_id helps small lookups only (see above). The alias
 * is not `event_id`: ClickHouse would substitute it into the WHERE clause.
 */
export const STORED_EVENT_IDS_SQL = `SELECT DISTINCT org_id, toString(event_id) AS id
FROM llm_usage
WHERE org_id IN {orgs:Array(String)}
  AND event_time >= {from:DateTime64(3, 'UTC')}
  AND event_time <= {to:DateTime64(3, 'UTC')}
  AND ${EVENT_ID_IN_LIST}`;

export interface StoredIdQuery {
  orgs: string[];
  ids: string[];
  minTimeMs: number;
  maxTimeMs: number;
}

/** What a stored-copy lookup asks for a batch of events: their orgs, ids and event_time range. */
export function storedIdQuery<T extends { org_id: string; event_id: string }>(
  items: readonly T[],
  timeMs: (item: T) => number,
): StoredIdQuery {
  const orgs = new Set<string>();
  let minTimeMs = Number.POSITIVE_INFINITY;
  let maxTimeMs = Number.NEGATIVE_INFINITY;
  for (const item of items) {
    orgs.add(item.org_id);
    const t = timeMs(item);
    if (t < minTimeMs) minTimeMs = t;
    if (t > maxTimeMs) maxTimeMs = t;
  }
  return { orgs: [...orgs], ids: items.map((i) => i.event_id), minTimeMs, maxTimeMs };
}

/** Parameters of {@link STORED_EVENT_IDS_SQL} for one batch but its ids, the time range widened by `windowMs` each side. */
export function storedIdParams(q: StoredIdQuery, windowMs: number = DEDUP_WINDOW_MS): Record<string, unknown> {
  return {
    orgs: q.orgs,
    from: toClickHouseTime(q.minTimeMs - windowMs),
    to: toClickHouseTime(q.maxTimeMs + windowMs),
  };
}

/** Keys ({@link eventKey}) of the batch's events already in llm_usage (and maybe of a few others: match by key). */
export async function findStoredKeys(store: Store, q: StoredIdQuery, windowMs: number = DEDUP_WINDOW_MS): Promise<Set<string>> {
  const found = new Set<string>();
  const params = storedIdParams(q, windowMs);
  for (const ids of idChunks(q.ids)) {
    const rows = await store.query<{ org_id: string; id: string }>(STORED_EVENT_IDS_SQL, { ...params, ids });
    for (const r of rows) found.add(eventKey(r.org_id, r.id));
  }
  return found;
}
