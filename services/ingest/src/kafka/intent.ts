import { createHash } from "node:crypto";
import type { Admin } from "kafkajs";

/** A contiguous offset range of one partition (offsets inclusive, decimal strings as kafkajs gives them). */
export interface PartitionRange {
  partition: number;
  first: string;
  last: string;
}

/**
 * The Kafka consumer's unit of work: one contiguous range from each of
 * several partitions of one topic, stored by ONE insert whose token is
 * derived from the ranges alone. Ranges are sorted by partition, one per
 * partition, so the same ranges always make the same plan, token and rows.
 */
export interface BatchPlan {
  topic: string;
  ranges: PartitionRange[];
}

/**
 * The plan a member is about to store, written as the metadata of each of
 * its partitions' committed offsets BEFORE the insert (the offsets themselves
 * stay at each range's first offset). Whoever reads any of those partitions
 * next finds the whole plan there and redoes exactly it, under the same token.
 */
const INTENT_PREFIX = "tm2:";
/**
 * Intent format of the one-range-per-insert consumer (before 2026-12); still
 * read, so an upgrade redoes its ranges. Not the writer's "tm1-" flush token.
 */
const LEGACY_INTENT_PREFIX = "tm1:pending:";
/**
 * Kafka's default `offset.metadata.max.bytes` is 4096; a plan never grows its
 * intent past this, so every partition's commit carries the whole plan.
 */
export const MAX_INTENT_BYTES = 3_500;

/** A plan from ranges in any order (sorted here; one range per partition). */
export function batchPlan(topic: string, ranges: readonly PartitionRange[]): BatchPlan {
  const sorted = [...ranges].sort((a, b) => a.partition - b.partition);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.partition === sorted[i - 1]!.partition) throw new Error(`two ranges of partition ${sorted[i]!.partition} in one plan`);
  }
  return { topic, ranges: sorted };
}

/** Offset-commit metadata for a plan in progress: `tm2:<partition>:<first>-<last>,…`. */
export function encodeIntent(plan: Pick<BatchPlan, "ranges">): string {
  return INTENT_PREFIX + plan.ranges.map((r) => `${r.partition}:${r.first}-${r.last}`).join(",");
}

/** Bytes one more range adds to a plan's intent (to keep it under {@link MAX_INTENT_BYTES}). */
export function intentBytes(r: PartitionRange): number {
  return `${r.partition}:${r.first}-${r.last},`.length;
}

/**
 * The plan in a committed offset's metadata, or undefined when there is none
 * (or it is not ours). A legacy `tm1` intent names one range of `partition`.
 */
export function decodeIntent(topic: string, partition: number, metadata: string | null | undefined): BatchPlan | undefined {
  if (!metadata) return undefined;
  if (metadata.startsWith(LEGACY_INTENT_PREFIX)) {
    const r = parseRange(metadata.slice(LEGACY_INTENT_PREFIX.length));
    return r ? { topic, ranges: [{ partition, ...r }] } : undefined;
  }
  if (!metadata.startsWith(INTENT_PREFIX)) return undefined;
  const ranges: PartitionRange[] = [];
  for (const part of metadata.slice(INTENT_PREFIX.length).split(",")) {
    const m = /^(\d+):(.*)$/.exec(part);
    const r = m ? parseRange(m[2]!) : undefined;
    if (!m || !r) return undefined;
    ranges.push({ partition: Number(m[1]), ...r });
  }
  try {
    const plan = batchPlan(topic, ranges);
    return plan.ranges.some((r) => r.partition === partition) ? plan : undefined;
  } catch {
    return undefined;
  }
}

function parseRange(s: string): { first: string; last: string } | undefined {
  const m = /^(\d+)-(\d+)$/.exec(s);
  if (!m || BigInt(m[1]!) > BigInt(m[2]!)) return undefined;
  return { first: m[1]!, last: m[2]! };
}

/**
 * insert_deduplication_token of a plan: depends on the offsets only, never on
 * timing or content. A one-range plan keeps the token the one-range consumer
 * used (`kafka:<topic>:<partition>:<first>-<last>`), so a range it recorded
 * and an upgraded consumer redoes is still recognised; several ranges hash.
 */
export function planToken(plan: BatchPlan): string {
  if (plan.ranges.length === 1) {
    const r = plan.ranges[0]!;
    return `kafka:${plan.topic}:${r.partition}:${r.first}-${r.last}`;
  }
  return `kafka:${plan.topic}:batch:${createHash("sha256").update(encodeIntent(plan)).digest("hex")}`;
}

/** Same ranges, same plan: the key redo bookkeeping groups partitions by. */
export function planKey(plan: BatchPlan): string {
  return `${plan.topic}|${encodeIntent(plan)}`;
}

/**
 * Live intents of the group on a topic, by partition: an intent is live only
 * while the committed offset is still its range's first offset (the commit
 * after the insert moves the offset and clears the metadata).
 */
export async function loadIntents(admin: Admin, groupId: string, topic: string): Promise<Map<number, BatchPlan>> {
  const res = await admin.fetchOffsets({ groupId, topics: [topic] });
  const out = new Map<number, BatchPlan>();
  for (const t of res) {
    for (const p of t.partitions) {
      const plan = decodeIntent(topic, p.partition, p.metadata);
      const own = plan?.ranges.find((r) => r.partition === p.partition);
      if (plan && own && own.first === p.offset) out.set(p.partition, plan);
    }
  }
  return out;
}
