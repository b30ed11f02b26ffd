import { randomUUID } from "node:crypto";
import type { Kafka, KafkaMessage } from "kafkajs";
import type { PartitionRange } from "./intent.js";

export interface ReadRangesOptions {
  /** Group id prefix of the throwaway reader (it never commits). */
  groupPrefix: string;
  maxBytesPerPartition: number;
  /** Gives up (rejects) after this long. */
  timeoutMs: number;
}

/**
 * Reads exactly the messages of some offset ranges, of partitions this member
 * does not own. Needed only to redo a plan whose partitions a rebalance split
 * between members: every owner must send the same rows under the same token.
 * A throwaway group (kafkajs has no manual assignment) that seeks each wanted
 * partition to its range, pauses the others, and never commits.
 */
export async function readRanges(
  kafka: Kafka,
  topic: string,
  ranges: readonly PartitionRange[],
  opts: ReadRangesOptions,
): Promise<Map<number, KafkaMessage[]>> {
  const out = new Map<number, KafkaMessage[]>(ranges.map((r) => [r.partition, []]));
  const open = new Map(ranges.map((r) => [r.partition, r]));
  if (open.size === 0) return out;
  const consumer = kafka.consumer({ groupId: `${opts.groupPrefix}.redo.${randomUUID()}`, maxBytesPerPartition: opts.maxBytesPerPartition });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${open.size} range(s) of ${topic} timed out`)), opts.timeoutMs);
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const mine = (e.payload.memberAssignment[topic] ?? []) as number[];
        const others = mine.filter((p) => !open.has(p));
        if (others.length > 0) consumer.pause([{ topic, partitions: others }]);
        for (const r of open.values()) consumer.seek({ topic, partition: r.partition, offset: r.first });
      });
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const r = open.get(batch.partition);
            if (!r) return;
            const first = BigInt(r.first);
            const last = BigInt(r.last);
            const got = out.get(r.partition)!;
            for (const m of batch.messages) {
              const o = BigInt(m.offset);
              if (o >= first && o <= last && (got.length === 0 || o > BigInt(got[got.length - 1]!.offset))) got.push(m);
            }
            if (BigInt(batch.lastOffset()) >= last) open.delete(r.partition);
            if (open.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch((err) => {
          clearTimeout(timer);
          reject(err);
        });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** The messages at some offsets of one partition (rare: the originals of rows the engine refused, for the DLQ). */
export async function readMessagesAt(
  kafka: Kafka,
  topic: string,
  partition: number,
  offsets: readonly string[],
  opts: ReadRangesOptions,
): Promise<KafkaMessage[]> {
  const sorted = [...offsets].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  const read = await readRanges(kafka, topic, [{ partition, first: sorted[0]!, last: sorted[sorted.length - 1]! }], opts);
  const wanted = new Set(offsets);
  return (read.get(partition) ?? []).filter((msg) => wanted.has(msg.offset));
}
