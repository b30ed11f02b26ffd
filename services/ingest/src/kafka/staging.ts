import type { BufferState } from "@tokenmeter/core";
import type { Message } from "kafkajs";
import { intentBytes, MAX_INTENT_BYTES, type PartitionRange } from "./intent.js";
import type { StagedEvent } from "./plan-insert.js";

/** A consumed message that goes to the DLQ. */
export interface StagedPoison {
  offset: string;
  bytes: number;
  poison: Message;
}

/** One consumed message, classified: a priced row to insert, or a DLQ message. */
export type StagedItem = StagedEvent | StagedPoison;

/** A contiguous run of one partition's staged messages, in offset order. */
export interface StagedRange {
  partition: number;
  items: StagedItem[];
  bytes: number;
}

/** The offsets a staged range covers (first and last message). */
export function rangeOf(r: StagedRange): PartitionRange {
  return { partition: r.partition, first: r.items[0]!.offset, last: r.items[r.items.length - 1]!.offset };
}

export interface TakeLimits {
  /** Messages in the batch at most (the last partition taken may be cut). */
  maxRows: number;
  /** Partitions whose staged messages must wait (a redo of theirs is pending). */
  exclude: ReadonlySet<number>;
}

/**
 * What a consumer member has read but not yet stored, per partition: the
 * next batch. Pure bookkeeping, no I/O: the consumer appends what each fetch
 * brought and takes a batch when the policy says so.
 */
export interface Staging {
  append(partition: number, items: StagedItem[], at: number): void;
  /** Removes and returns the next batch: partitions in order, whole where possible, under the limits. */
  take(limits: TakeLimits): StagedRange[];
  /** Rows, bytes and oldest arrival of what could be taken now (excluded partitions left out). */
  state(exclude: ReadonlySet<number>): BufferState;
  /** Message bytes held in all partitions. */
  bytes(): number;
  clear(): void;
}

export function createStaging(): Staging {
  const parts = new Map<number, StagedRange & { since: number }>();
  let total = 0;
  return {
    append(partition, items, at) {
      if (items.length === 0) return;
      let p = parts.get(partition);
      if (!p) {
        p = { partition, items: [], bytes: 0, since: at };
        parts.set(partition, p);
      }
      for (const item of items) {
        p.items.push(item);
        p.bytes += item.bytes;
        total += item.bytes;
      }
    },
    take({ maxRows, exclude }) {
      const out: StagedRange[] = [];
      let rows = 0;
      let intent = "tm2:".length;
      for (const partition of [...parts.keys()].sort((a, b) => a - b)) {
        if (exclude.has(partition) || rows >= maxRows) continue;
        const p = parts.get(partition)!;
        const n = Math.min(p.items.length, maxRows - rows);
        const range = { partition, items: p.items.slice(0, n), bytes: 0 };
        // Every partition's commit carries the whole plan: stop before the metadata limit.
        const size = intentBytes(rangeOf(range));
        if (out.length > 0 && intent + size > MAX_INTENT_BYTES) break;
        intent += size;
        for (const item of range.items) range.bytes += item.bytes;
        out.push(range);
        rows += n;
        total -= range.bytes;
        if (n === p.items.length) parts.delete(partition);
        else {
          p.items = p.items.slice(n);
          p.bytes -= range.bytes;
        }
      }
      return out;
    },
    state(exclude) {
      let rows = 0;
      let bytes = 0;
      let oldestAtMs: number | null = null;
      for (const p of parts.values()) {
        if (exclude.has(p.partition)) continue;
        rows += p.items.length;
        bytes += p.bytes;
        if (oldestAtMs === null || p.since < oldestAtMs) oldestAtMs = p.since;
      }
      return { rows, bytes, oldestAtMs };
    },
    bytes: () => total,
    clear() {
      parts.clear();
      total = 0;
    },
  };
}
