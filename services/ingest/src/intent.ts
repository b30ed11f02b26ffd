import type { Admin } from "kafkajs";
import type { OffsetRange } from "./range-writer.js";

/**
 * The range a member is about to store, written as the metadata of the
 * partition's committed offset BEFORE the insert (the committed offset itself
 * stays at the range's first offset). Whoever reads the partition next —
 * the same process after SIGKILL, or a new owner after a rebalance — finds it
 * and redoes exactly that range, so the insert carries the same token.
 */
export interface Intent {
  first: string;
  last: string;
}

const PREFIX = "tm1:pending:";

/** Offset-commit metadata for a range in progress. */
export function encodeIntent(r: Pick<OffsetRange, "first" | "last">): string {
  return `${PREFIX}${r.first}-${r.last}`;
}

/** The intent in a committed offset's metadata, or undefined when there is none. */
export function decodeIntent(metadata: string | null | undefined): Intent | undefined {
  if (!metadata?.startsWith(PREFIX)) return undefined;
  const m = /^(\d+)-(\d+)$/.exec(metadata.slice(PREFIX.length));
  if (!m || BigInt(m[1]!) > BigInt(m[2]!)) return undefined;
  return { first: m[1]!, last: m[2]! };
}

/**
 * Intents of the group on a topic, by partition. Only an intent whose `first`
 * equals the committed offset is live: a later plain commit clears it.
 */
export async function loadIntents(admin: Admin, groupId: string, topic: string): Promise<Map<number, Intent>> {
  const res = await admin.fetchOffsets({ groupId, topics: [topic] });
  const out = new Map<number, Intent>();
  for (const t of res) {
    for (const p of t.partitions) {
      const i = decodeIntent(p.metadata);
      if (i && i.first === p.offset) out.set(p.partition, i);
    }
  }
  return out;
}
