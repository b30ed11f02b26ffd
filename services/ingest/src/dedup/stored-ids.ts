import { createHash } from "node:crypto";
import { DEFAULT_MAX_PARAM_BYTES, IDS_TABLE, type QueryParams, type Store } from "@tokenmeter/clickhouse";
import { toClickHouseTime } from "@tokenmeter/core";
import { z } from "zod";

/**
 * The contract (docs/exactly-once.md): a producer re-sending an event_id "within 24 h" must count once, so
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
  return `${FLUSH_TOKEN_PREFIX}${h.digest("hex")}`;
}

/**
 * Format of the writer's flush tokens ("tm1-" + SHA-256). Fixed for good: a
 * token must come out the same after an upgrade, or a redone flush would land
 * twice. Unrelated to the consumer's intent formats (kafka/intent.ts), whose
 * old one happens to start with "tm1:" too.
 */
const FLUSH_TOKEN_PREFIX = "tm1-";

/**
 * How a lookup passes a batch's event_ids (measured on chDB 26.7, 2 M rows in
 * the window, docs/benchmarks.md §6 and §1c):
 *
 * - up to {@link MAX_EXACT_IDS}: `event_id IN {ids:Array(UUID)}`, the
 *   cheapest for the batching writer's few thousand ids (binding ~4 µs an id,
 *   a UUID compare per stored row);
 * - more (a Kafka batch of up to 200k), on a store that takes ids as rows
 *   (Store.queryWithIds, the embedded engine): the ids themselves, exact;
 * - more, on a server: binding an Array(UUID) past 65,536 elements falls off a
 *   cliff (67k ids: 76 s instead of 0.2 s), so a 48-bit fingerprint of each id
 *   goes as decimals in one '_'-joined String parameter, compared to the same
 *   fingerprint of the stored event_id. That returns a superset (another
 *   stored id with the same fingerprint); callers match the full (org_id,
 *   event_id) key, so a false match costs one row, never a wrong answer (~2
 *   per 100k-id lookup against 5 billion rows in the window). The fingerprint
 *   XORs the low 48 bits of both halves: the top 48 bits it replaced are the
 *   timestamp of a UUIDv7 (every event of a millisecond matched) and the same
 *   for ids that share a prefix, which made a lookup return nearly every row
 *   of the window and the consumer fall behind at 29k events/s.
 */
export interface IdFilter {
  /** The statement's condition on event_id. */
  sql: string;
  /** Its `{ids}` parameter. */
  ids: string[] | string;
}

export const MAX_EXACT_IDS = 20_000;
const EXACT_IDS = "event_id IN {ids:Array(UUID)}";
/** The fingerprint of a stored event_id: low 48 bits of its high half XOR those of its low half. */
const FINGERPRINT =
  "toUInt64(bitXor(bitAnd(bitShiftRight(toUInt128(event_id), 64), 281474976710655), bitAnd(toUInt128(event_id), 281474976710655)))";
const FINGERPRINTS = `${FINGERPRINT} IN (SELECT toUInt64(arrayJoin(splitByChar('_', {ids:String}))))`;

/** Parameter bytes per id in the fingerprint form, at most: 15 decimal digits and the separator. */
const FINGERPRINT_ID_BYTES = 16;

/**
 * Most ids per fingerprint statement on a store that states no limit (a
 * server takes parameters in the URL): 50,000.
 */
export const MAX_IDS_PER_LOOKUP = DEFAULT_MAX_PARAM_BYTES / FINGERPRINT_ID_BYTES;

/**
 * The lookups a batch's ids take as parameters: one exact one, or fingerprint ones of as many
 * ids as `maxParamBytes` (the store's {@link Store.maxParamBytes}) allows; none for none.
 */
export function idFilters(ids: readonly string[], maxParamBytes: number = DEFAULT_MAX_PARAM_BYTES): IdFilter[] {
  if (ids.length === 0) return [];
  if (ids.length <= MAX_EXACT_IDS) return [{ sql: EXACT_IDS, ids: [...ids] }];
  const perLookup = Math.max(1, Math.floor(maxParamBytes / FINGERPRINT_ID_BYTES));
  const out: IdFilter[] = [];
  for (let i = 0; i < ids.length; i += perLookup) {
    out.push({
      sql: FINGERPRINTS,
      ids: ids
        .slice(i, i + perLookup)
        .map(fingerprint)
        .join("_"),
    });
  }
  return out;
}

/** {@link FINGERPRINT} of a UUID, as decimal text; 24-bit pieces keep the XOR in JS's int32 range. */
export function fingerprint(id: string): string {
  const hex = id.length === 36 ? id.slice(0, 8) + id.slice(9, 13) + id.slice(14, 18) + id.slice(19, 23) + id.slice(24) : id;
  const piece = (from: number) => Number.parseInt(hex.slice(from, from + 6), 16);
  return String((piece(4) ^ piece(20)) * 0x1000000 + (piece(10) ^ piece(26)));
}

/** The exact condition reading the ids as rows of the store's ids table (Store.queryWithIds). */
const IN_IDS_TABLE = `event_id IN ${IDS_TABLE}`;

/**
 * The rows of a stored-copy statement (`sqlOf` its condition on event_id) for
 * a batch's ids. Past {@link MAX_EXACT_IDS}, a store that takes ids as rows
 * (the embedded engine) gets them that way, exact, in one statement: binding
 * 200k ids as a parameter cost ~150 ms, as rows ~30 ms. Otherwise the
 * {@link idFilters} statements, one after the other.
 */
export async function queryByIds(
  store: Store,
  sqlOf: (f: Pick<IdFilter, "sql">) => string,
  params: QueryParams,
  ids: readonly string[],
): Promise<unknown[]> {
  if (ids.length > MAX_EXACT_IDS && store.queryWithIds) return store.queryWithIds(sqlOf({ sql: IN_IDS_TABLE }), params, ids);
  const rows: unknown[] = [];
  // A redo finds every id of its batch: no spread into push (argument limits).
  for (const f of idFilters(ids, store.maxParamBytes)) for (const r of await store.query(sqlOf(f), { ...params, ids: f.ids })) rows.push(r);
  return rows;
}

/**
 * Which of these events are already stored. org_id leads the ORDER BY and
 * event_time follows, so the primary index narrows to the orgs' time slice;
 * the bloom filter on event_id helps small lookups only (see above). The alias
 * is not `event_id`: ClickHouse would substitute it into the WHERE clause.
 */
export function storedEventIdsSql(f: Pick<IdFilter, "sql">): string {
  return `SELECT DISTINCT org_id, toString(event_id) AS id
FROM llm_usage
WHERE org_id IN {orgs:Array(String)}
  AND event_time >= {from:DateTime64(3, 'UTC')}
  AND event_time <= {to:DateTime64(3, 'UTC')}
  AND ${f.sql}`;
}

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

/** Parameters of {@link storedEventIdsSql} for one batch but its ids, the time range widened by `windowMs` each side. */
export function storedIdParams(q: StoredIdQuery, windowMs: number = DEDUP_WINDOW_MS): Record<string, unknown> {
  return {
    orgs: q.orgs,
    from: toClickHouseTime(q.minTimeMs - windowMs),
    to: toClickHouseTime(q.maxTimeMs + windowMs),
  };
}

/** Rows of {@link storedEventIdsSql}, checked as they leave the store (a drifted schema is a clear error, not a wrong key). */
export const StoredIdRows = z.array(z.object({ org_id: z.string(), id: z.string() }));

/** Keys ({@link eventKey}) of the batch's events already in llm_usage (and maybe of a few others: match by key). */
export async function findStoredKeys(store: Store, q: StoredIdQuery, windowMs: number = DEDUP_WINDOW_MS): Promise<Set<string>> {
  const found = new Set<string>();
  for (const r of StoredIdRows.parse(await queryByIds(store, storedEventIdsSql, storedIdParams(q, windowMs), q.ids))) {
    found.add(eventKey(r.org_id, r.id));
  }
  return found;
}
