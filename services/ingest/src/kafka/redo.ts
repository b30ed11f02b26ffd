import type { KafkaMessage } from "kafkajs";
import { type BatchPlan, type PartitionRange, planKey } from "./intent.js";

/**
 * A recorded plan this member must store again (after a crash, a failed
 * attempt, or a rebalance) before its partitions move on. The plan's
 * messages come from this member's own fetches for the partitions it owns
 * (their committed offsets still sit at the plan's first offsets), and from
 * a throwaway reader for the others.
 */
export interface Redo {
  readonly plan: BatchPlan;
  /** Partitions of the plan this member owns: collected from its fetches, committed by it. */
  readonly owned: ReadonlySet<number>;
  /** Takes the plan's messages of a fetched batch; returns the messages after the range (the next batch's). */
  collect(partition: number, messages: KafkaMessage[], batchLastOffset: string): KafkaMessage[];
  /** Messages of ranges read for partitions this member does not own. */
  addRead(read: Map<number, KafkaMessage[]>): void;
  /** The owned partitions still being collected. */
  waiting(partition: number): boolean;
  /** Partitions not owned, to read. */
  foreign(): PartitionRange[];
  complete(): boolean;
  /** Every range starts at its first offset (retention did not cut one): the same rows as the first attempt. */
  exact(): boolean;
  /** Messages per partition, in plan order; only once complete. */
  messages(): Array<{ range: PartitionRange; messages: KafkaMessage[] }>;
}

export function createRedo(plan: BatchPlan, owned: Iterable<number>): Redo {
  const mine = new Set(owned);
  const got = new Map<number, KafkaMessage[]>();
  const done = new Set<number>();
  const byPartition = new Map(plan.ranges.map((r) => [r.partition, r]));
  return {
    plan,
    owned: mine,
    collect(partition, messages, batchLastOffset) {
      const r = byPartition.get(partition);
      if (!r || done.has(partition)) return messages;
      const last = BigInt(r.last);
      const list = got.get(partition) ?? [];
      got.set(partition, list);
      let i = 0;
      for (; i < messages.length && BigInt(messages[i]!.offset) <= last; i++) {
        const o = BigInt(messages[i]!.offset);
        if (o >= BigInt(r.first) && (list.length === 0 || o > BigInt(list[list.length - 1]!.offset))) list.push(messages[i]!);
      }
      if (i < messages.length || BigInt(batchLastOffset) >= last) done.add(partition);
      return messages.slice(i);
    },
    addRead(read) {
      for (const [partition, messages] of read) {
        if (mine.has(partition) || !byPartition.has(partition)) continue;
        got.set(partition, messages);
        done.add(partition);
      }
    },
    waiting: (partition) => mine.has(partition) && !done.has(partition),
    foreign: () => plan.ranges.filter((r) => !mine.has(r.partition)),
    complete: () => plan.ranges.every((r) => done.has(r.partition)),
    exact: () => plan.ranges.every((r) => got.get(r.partition)?.[0]?.offset === r.first),
    messages: () => plan.ranges.map((range) => ({ range, messages: got.get(range.partition) ?? [] })),
  };
}

/**
 * The recorded plans a member must redo after a join: one per distinct plan
 * among the intents of its assigned partitions, with the partitions of it
 * this member owns (a plan a rebalance split names partitions it does not).
 */
export function recordedPlans(
  intents: ReadonlyMap<number, BatchPlan>,
  assigned: ReadonlySet<number>,
): Array<{ plan: BatchPlan; owned: number[] }> {
  const plans = new Map<string, { plan: BatchPlan; owned: number[] }>();
  for (const [partition, plan] of intents) {
    if (!assigned.has(partition)) continue;
    const entry = plans.get(planKey(plan)) ?? { plan, owned: [] };
    entry.owned.push(partition);
    plans.set(planKey(plan), entry);
  }
  return [...plans.values()];
}
