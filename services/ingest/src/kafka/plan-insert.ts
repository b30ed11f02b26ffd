import type { Store } from "@tokenmeter/clickhouse";
import { toClickHouseTime, USAGE_TSV_HEADER } from "@tokenmeter/core";
import { z } from "zod";
import { insertLinesSplitting, payloadLines, type RefusedRow, type SplitListener } from "../dedup/bisect.js";
import { DEDUP_WINDOW_MS, eventKey, type IdFilter, queryByIds, storedIdQuery } from "../dedup/stored-ids.js";
import { type BatchPlan, planToken } from "./intent.js";
import { joinLines, type LineRef } from "./line-arena.js";
import { kafkaSource } from "./source.js";

/**
 * Storing one batch plan (ranges of several partitions) as ONE insert whose
 * deduplication token is derived from the ranges alone, so any attempt to
 * store the same plan (a retry, a restart after SIGKILL, a new owner after a
 * rebalance) lands once in llm_usage and once in every MV-fed rollup. See
 * docs/exactly-once.md.
 */

/**
 * A valid event of a plan, already priced and serialized as its llm_usage row
 * (one TSV line, see usageTsvLine, newline included, in a line arena). One
 * flat object per event: a staged batch holds ~100k of them for seconds.
 */
export interface StagedEvent extends LineRef {
  org_id: string;
  event_id: string;
  /** event_time, epoch ms. */
  timeMs: number;
  partition: number;
  offset: string;
  /** Size of the Kafka message it came from (memory accounting). */
  bytes: number;
  poison?: undefined;
}

/**
 * Stored copies of a batch's events (the UUID is read as `id`: aliasing it
 * `event_id` would shadow the column in WHERE and compare strings to UUIDs), with their source, so a re-attempt of
 * the same plan can tell "stored by an earlier attempt of this plan" (keep:
 * the token makes the insert a no-op where it landed and completes what did
 * not) from "stored from another message" (a producer duplicate: drop). `ms`
 * lets a lookup shared by several batches keep each to its own window.
 */
export function storedSourcesSql(f: Pick<IdFilter, "sql">): string {
  return `SELECT org_id, toString(event_id) AS id, source, toUnixTimestamp64Milli(event_time) AS ms
FROM llm_usage
WHERE org_id IN {orgs:Array(String)}
  AND event_time >= {from:DateTime64(3, 'UTC')}
  AND event_time <= {to:DateTime64(3, 'UTC')}
  AND ${f.sql}`;
}

/** What the stored-copy lookup needs of an event. */
export type EventRef = Pick<StagedEvent, "org_id" | "event_id" | "timeMs">;

/** Finds the stored copies (event key → sources) of one batch's events. */
export interface StoredLookup {
  find(events: readonly EventRef[]): Promise<Map<string, Set<string>>>;
}

interface Pending {
  orgs: Set<string>;
  ids: string[];
  fromMs: number;
  toMs: number;
  resolve(found: Map<string, Set<string>>): void;
  reject(err: unknown): void;
}

/**
 * The stored-copy lookup of a process, shared by its consumer members. The
 * query reads event_id over the whole window (the bloom filter cannot skip
 * granules for thousands of ids), so its cost follows the rows in the window,
 * not the ids asked for; and chDB runs bound statements one at a time anyway.
 * So a lookup asked for while one runs waits for it and then joins every
 * other waiting one in ONE query over the union of orgs, ids and windows;
 * each batch still gets only the copies inside its own window (`windowMs`
 * either side of its event_time range), exactly what a query of its own returns.
 */
export function createStoredLookup(store: Store, windowMs: number = DEDUP_WINDOW_MS): StoredLookup {
  let queue: Pending[] = [];
  let running = false;

  async function drain(): Promise<void> {
    running = true;
    while (queue.length > 0) {
      const group = queue;
      queue = [];
      try {
        const found = await queryGroup(group);
        for (const p of group) p.resolve(ownWindow(found, p));
      } catch (err) {
        for (const p of group) p.reject(err);
      }
    }
    running = false;
  }

  async function queryGroup(group: Pending[]): Promise<StoredCopy[]> {
    const orgs = new Set<string>();
    const ids: string[] = [];
    let fromMs = Number.POSITIVE_INFINITY;
    let toMs = Number.NEGATIVE_INFINITY;
    for (const p of group) {
      for (const o of p.orgs) orgs.add(o);
      for (const id of p.ids) ids.push(id);
      fromMs = Math.min(fromMs, p.fromMs);
      toMs = Math.max(toMs, p.toMs);
    }
    const params = { orgs: [...orgs], from: toClickHouseTime(fromMs), to: toClickHouseTime(toMs) };
    return StoredCopies.parse(await queryByIds(store, storedSourcesSql, params, ids));
  }

  return {
    find(events) {
      const q = storedIdQuery(events, (e) => e.timeMs);
      return new Promise((resolve, reject) => {
        queue.push({ orgs: new Set(q.orgs), ids: q.ids, fromMs: q.minTimeMs - windowMs, toMs: q.maxTimeMs + windowMs, resolve, reject });
        if (!running) void drain();
      });
    },
  };
}

/** Rows of {@link storedSourcesSql}, checked as they leave the store; `ms` is an Int64 (a JSON string on a server). */
const StoredCopies = z.array(z.object({ org_id: z.string(), id: z.string(), source: z.string(), ms: z.coerce.number() }));
type StoredCopy = z.output<typeof StoredCopies>[number];

/** The copies one batch would have found on its own: its orgs, inside its window (ids are matched by the caller). */
function ownWindow(found: StoredCopy[], p: Pending): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const f of found) {
    const ms = Number(f.ms);
    if (ms < p.fromMs || ms > p.toMs || !p.orgs.has(f.org_id)) continue;
    const key = eventKey(f.org_id, f.id);
    const set = out.get(key) ?? new Set<string>();
    set.add(f.source);
    out.set(key, set);
  }
  return out;
}

export interface Selection {
  events: StagedEvent[];
  /** Dropped: repeated inside the plan, or already stored from another message. */
  duplicates: number;
}

/**
 * Picks the events of a plan to insert, given in plan order (partition, then
 * offset): the first occurrence of each event wins inside the plan; an event
 * already stored from a different message is a duplicate. With `keepOwn`, an
 * event stored from this very message (same source) is kept, because only
 * the same insert under the same token can complete a rollup that an
 * interrupted attempt left behind.
 */
export async function selectEvents(
  lookup: StoredLookup,
  topic: string,
  events: readonly StagedEvent[],
  opts: { keepOwn: boolean },
): Promise<Selection> {
  const seen = new Set<string>();
  const unique: StagedEvent[] = [];
  for (const e of events) {
    const key = eventKey(e.org_id, e.event_id);
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(e);
  }
  if (unique.length === 0) return { events: [], duplicates: events.length };
  const stored = await lookup.find(unique);
  const kept = unique.filter((e) => {
    const sources = stored.get(eventKey(e.org_id, e.event_id));
    if (!sources) return true;
    return opts.keepOwn && sources.has(kafkaSource(topic, e.partition, e.offset));
  });
  return { events: kept, duplicates: events.length - kept.length };
}

/** The TabSeparatedWithNames payload of one insert (empty when no event is kept). */
export function payloadOf(events: readonly StagedEvent[]): Buffer {
  return events.length === 0 ? Buffer.alloc(0) : joinLines(HEADER, events);
}

const HEADER = Buffer.from(USAGE_TSV_HEADER);

/**
 * Inserts one plan's rows under its token (or `token`, for a plan that can
 * only be redone in part). The dependent-MV setting makes the rollups
 * de-duplicate on their own: a retry after the raw part landed but a rollup
 * part did not still fills the rollup.
 */
export async function insertPlan(
  store: Store,
  plan: BatchPlan,
  payload: Buffer,
  token = planToken(plan),
  onSplit?: SplitListener,
): Promise<RefusedRow[]> {
  if (payload.length === 0) return [];
  // A row the engine refuses splits the insert (bisect.ts); the halves' tokens derive from this one.
  return insertLinesSplitting(
    payload,
    token,
    1,
    (part, tok) =>
      store.insert("llm_usage", part, {
        format: "TabSeparatedWithNames",
        settings: { insert_deduplication_token: tok, deduplicate_blocks_in_dependent_materialized_views: 1 },
      }),
    onSplit,
  );
}

/** A refused row of a plan's payload: where it came from (its `source` column, the last one) and its TSV line. */
export interface RefusedMessage {
  partition: number;
  offset: string;
  line: Buffer;
  reason: string;
}

export function refusedMessages(payload: Buffer, refused: readonly RefusedRow[]): RefusedMessage[] {
  if (refused.length === 0) return [];
  const { lines } = payloadLines(payload, 1);
  const out: RefusedMessage[] = [];
  for (const r of refused) {
    const line = lines[r.index]!;
    const m = /:(\d+):(\d+)\n?$/.exec(line.toString("utf8"));
    if (m) out.push({ partition: Number(m[1]), offset: m[2]!, line, reason: r.reason });
  }
  return out;
}
