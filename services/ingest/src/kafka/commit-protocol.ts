import type { Store } from "@tokenmeter/clickhouse";
import type { Consumer, KafkaMessage, Message, Producer } from "kafkajs";
import type { Logger } from "pino";
import { logSplits, type RefusedRow, refusalError } from "../dedup/bisect.js";
import { publishToDlq, toDlqMessage } from "./dlq.js";
import { type BatchPlan, encodeIntent, planToken } from "./intent.js";
import type { KafkaMetrics } from "./metrics.js";
import {
  insertPlan,
  payloadOf,
  type RefusedMessage,
  refusedMessages,
  type Selection,
  type StagedEvent,
  type StoredLookup,
  selectEvents,
} from "./plan-insert.js";
import type { StagedRange } from "./staging.js";
import { untilDone, type WriteHealth } from "./write-health.js";

/** How writing a plan ended; anything but "done" leaves its offsets uncommitted for the next attempt. */
export type WriteOutcome = "done" | "stopped" | "fenced";

export interface WriteDeps {
  consumer: Consumer;
  store: Store;
  producer: Producer;
  lookup: StoredLookup;
  dlqTopic: string;
  metrics: KafkaMetrics;
  logger: Logger;
  retry: { retryMinMs: number; retryMaxMs: number };
  /** Told of every step's failure and success: a streak the store refuses outright makes the member not ready. */
  health: Pick<WriteHealth, "failed" | "succeeded">;
  /** The member rejoined since this write began: another generation owns the partitions now. */
  fenced(): boolean;
  stopping(): boolean;
  /** The original messages at these offsets of a partition (for the DLQ of rows the engine refused). */
  readOriginals(partition: number, offsets: readonly string[]): Promise<KafkaMessage[]>;
  now(): number;
}

export interface WriteFlags {
  /** Redoing a recorded plan: its intent is already committed. */
  redo: boolean;
  /** The redo has every message the first attempt had (retention cut none). */
  exact: boolean;
  /** Partitions whose offsets this member commits past the plan (a split redo commits only its own). */
  commit: number[];
  /** JS time spent staging these messages (for the log). */
  stageMs: number;
}

/** A plan with its rows chosen: what step 3 inserts. */
export interface PreparedPlan {
  plan: BatchPlan;
  flags: WriteFlags;
  messages: number;
  poison: Message[];
  payload: Buffer;
  kept: number;
  duplicates: number;
  newestMs: number;
  dedupMs: number;
}

/**
 * Chooses a plan's rows: drops repeats inside the plan and copies stored from
 * other messages (the stored-copy lookup, retried until it answers or the
 * member is fenced or stopping).
 */
export async function preparePlan(
  d: WriteDeps,
  plan: BatchPlan,
  ranges: StagedRange[],
  flags: WriteFlags,
): Promise<PreparedPlan | WriteOutcome> {
  const events: StagedEvent[] = [];
  const poison: Message[] = [];
  let messages = 0;
  for (const r of ranges) {
    messages += r.items.length;
    for (const item of r.items) {
      if (item.poison) poison.push(item.poison);
      else events.push(item);
    }
  }
  const t0 = performance.now();
  let sel: Selection | null = null;
  const chosen = await untilDone(d, "dedup", async () => {
    sel = await selectEvents(d.lookup, plan.topic, events, { keepOwn: flags.redo && flags.exact });
  });
  if (chosen !== "done" || sel === null) return chosen === "done" ? "stopped" : chosen;
  const kept = (sel as Selection).events;
  let newestMs = 0;
  for (const e of kept) if (e.timeMs > newestMs) newestMs = e.timeMs;
  return {
    plan,
    flags,
    messages,
    poison,
    payload: payloadOf(kept),
    kept: kept.length,
    duplicates: events.length - kept.length,
    newestMs,
    dedupMs: performance.now() - t0,
  };
}

/**
 * One prepared plan, in numbered steps:
 * 1. record the intent: every partition's committed offset stays at its range's
 *    first offset, the metadata names the whole plan;
 * 2. poison messages to the DLQ (acked);
 * 3. insert the chosen rows under the plan token (retried until stored);
 * 4. commit each owned partition past its range, clearing the intent.
 * A crash anywhere leaves either the intent (the next reader redoes the same
 * plan under the same token) or the committed end (done).
 */
export async function writePlan(d: WriteDeps, p: PreparedPlan): Promise<WriteOutcome> {
  const m = d.metrics;
  const { plan, flags } = p;
  const topic = plan.topic;
  const started = performance.now();
  // 1. Intent.
  if (!flags.redo) {
    const metadata = encodeIntent(plan);
    const recorded = await untilDone(d, "intent", () =>
      d.consumer.commitOffsets(plan.ranges.map((r) => ({ topic, partition: r.partition, offset: r.first, metadata }))),
    );
    if (recorded !== "done") return recorded;
  } else {
    m.redone.inc();
  }
  const intentAt = performance.now();
  // 2. DLQ.
  const dlqOk = await untilDone(d, "dlq", () => publishToDlq(d.producer, d.dlqTopic, p.poison));
  if (dlqOk !== "done") return dlqOk;
  // 3. Insert under the plan token.
  const dlqAt = performance.now();
  const token = flags.exact ? planToken(plan) : `${planToken(plan)}:partial`;
  let refused: RefusedRow[] = [];
  const stored = await untilDone(d, "insert", async () => {
    refused = await insertPlan(d.store, plan, p.payload, token, logSplits(d.logger, "insert"));
  });
  if (stored !== "done") return stored;
  // 3b. Rows the engine refused (the rest is stored): their messages to the DLQ with its reason, acked.
  const rejects = refusedMessages(p.payload, refused);
  if (rejects.length < refused.length) {
    // Every row staged from Kafka names its message in `source`; one that does not cannot be sent to the DLQ.
    d.logger.error({ op: "flush", refused: refused.length, located: rejects.length }, "refused rows without a source message");
  }
  if (rejects.length > 0) {
    const sent = await untilDone(d, "dlq", async () => publishToDlq(d.producer, d.dlqTopic, await refusedToDlq(d, topic, rejects)));
    if (sent !== "done") return sent;
    m.rejected.inc({ kind: "refused" }, rejects.length);
    d.logger.warn(
      { op: "flush", refused: rejects.length, reason: rejects[0]!.reason },
      "engine refused rows; sent them to the DLQ, stored the rest",
    );
  }
  const storedAt = performance.now();
  // 4. Commit past the ranges; this also clears the intent.
  const owned = new Set(flags.commit);
  const ends = plan.ranges
    .filter((r) => owned.has(r.partition))
    .map((r) => ({ topic, partition: r.partition, offset: (BigInt(r.last) + 1n).toString(), metadata: null }));
  const committed = await untilDone(d, "commit", () => (ends.length > 0 ? d.consumer.commitOffsets(ends) : Promise.resolve()));
  if (committed !== "done") return committed;
  m.inserted.inc(p.kept - rejects.length);
  m.duplicates.inc(p.duplicates);
  m.batchRows.observe(p.kept - rejects.length);
  if (p.payload.length > 0) m.batchBytes.observe(p.payload.length);
  if (p.newestMs > 0) m.observeEventTime(p.newestMs);
  const ms = performance.now() - started;
  m.flushSeconds.observe((ms + p.dedupMs) / 1000);
  d.logger.info(
    {
      op: "flush",
      partitions: plan.ranges.length,
      rows: p.kept - rejects.length,
      messages: p.messages,
      duplicates: p.duplicates,
      dlq: p.poison.length + rejects.length,
      redo: flags.redo,
      stage_ms: Math.round(flags.stageMs),
      dedup_ms: Math.round(p.dedupMs),
      intent_ms: Math.round(intentAt - started),
      dlq_ms: Math.round(dlqAt - intentAt),
      insert_ms: Math.round(storedAt - dlqAt),
      commit_ms: Math.round(performance.now() - storedAt),
      ms: Math.round(ms),
    },
    "batch stored",
  );
  return "done";
}

/**
 * DLQ messages of refused rows: the original bytes read back from the topic
 * (staging keeps only the serialized row); a message the log no longer
 * holds goes with its stored-row line instead, so it is never lost.
 */
async function refusedToDlq(d: WriteDeps, topic: string, rejects: readonly RefusedMessage[]): Promise<Message[]> {
  const byPartition = new Map<number, RefusedMessage[]>();
  for (const r of rejects) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r]);
  const out: Message[] = [];
  for (const [partition, list] of byPartition) {
    const originals = new Map(
      (
        await d.readOriginals(
          partition,
          list.map((r) => r.offset),
        )
      ).map((msg) => [msg.offset, msg]),
    );
    for (const r of list) {
      const original = originals.get(r.offset) ?? { key: null, value: r.line };
      const drop = { kind: "refused" as const, errors: [refusalError(r.reason)] };
      out.push(toDlqMessage({ topic, partition, offset: r.offset }, original, drop, d.now()));
    }
  }
  return out;
}
