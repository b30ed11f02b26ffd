import type { Store } from "@tokenmeter/clickhouse";
import type { Consumer, Message, Producer } from "kafkajs";
import type { Logger } from "pino";
import { publishToDlq } from "./dlq.js";
import { type BatchPlan, encodeIntent, planToken } from "./intent.js";
import type { KafkaMetrics } from "./kafka-metrics.js";
import { insertPlan, payloadOf, type StagedEvent, type StoredLookup, selectEvents } from "./plan-writer.js";
import type { StagedRange } from "./staging.js";

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
  /** The member rejoined since this write began: another generation owns the partitions now. */
  fenced(): boolean;
  stopping(): boolean;
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

/**
 * One plan, in numbered steps:
 * 1. record the intent: every partition's committed offset stays at its range's
 *    first offset, the metadata names the whole plan;
 * 2. poison messages to the DLQ (acked);
 * 3. drop repeats, insert under the plan token (retried until stored);
 * 4. commit each owned partition past its range, clearing the intent.
 * A crash anywhere leaves either the intent (the next reader redoes the same
 * plan under the same token) or the committed end (done).
 */
export async function writePlan(d: WriteDeps, plan: BatchPlan, ranges: StagedRange[], flags: WriteFlags): Promise<WriteOutcome> {
  const m = d.metrics;
  const topic = plan.topic;
  const started = performance.now();
  const events: StagedEvent[] = [];
  const poison: Message[] = [];
  let newest = 0;
  for (const r of ranges) {
    for (const item of r.items) {
      if (item.event) {
        events.push(item.event);
        if (item.event.timeMs > newest) newest = item.event.timeMs;
      } else poison.push(item.poison);
    }
  }
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
  const dlqOk = await untilDone(d, "dlq", () => publishToDlq(d.producer, d.dlqTopic, poison));
  if (dlqOk !== "done") return dlqOk;
  // 3. Select and insert under the plan token.
  const dlqAt = performance.now();
  let kept = 0;
  let duplicates = 0;
  let bytes = 0;
  let dedupMs = 0;
  const token = flags.exact ? planToken(plan) : `${planToken(plan)}:partial`;
  const stored = await untilDone(d, "insert", async () => {
    const t0 = performance.now();
    const sel = await selectEvents(d.lookup, topic, events, { keepOwn: flags.redo && flags.exact });
    dedupMs = performance.now() - t0;
    const payload = payloadOf(sel.events);
    await insertPlan(d.store, plan, payload, token);
    kept = sel.events.length;
    duplicates = sel.duplicates;
    bytes = payload.length;
  });
  if (stored !== "done") return stored;
  const storedAt = performance.now();
  // 4. Commit past the ranges; this also clears the intent.
  const owned = new Set(flags.commit);
  const ends = plan.ranges
    .filter((r) => owned.has(r.partition))
    .map((r) => ({ topic, partition: r.partition, offset: (BigInt(r.last) + 1n).toString(), metadata: null }));
  const committed = await untilDone(d, "commit", () => (ends.length > 0 ? d.consumer.commitOffsets(ends) : Promise.resolve()));
  if (committed !== "done") return committed;
  m.inserted.inc(kept);
  m.duplicates.inc(duplicates);
  m.batchRows.observe(kept);
  if (bytes > 0) m.batchBytes.observe(bytes);
  if (newest > 0) m.observeEventTime(newest);
  const ms = performance.now() - started;
  m.flushSeconds.observe(ms / 1000);
  d.logger.info(
    {
      op: "flush",
      partitions: plan.ranges.length,
      rows: kept,
      messages: ranges.reduce((n, r) => n + r.items.length, 0),
      duplicates,
      dlq: poison.length,
      redo: flags.redo,
      stage_ms: Math.round(flags.stageMs),
      intent_ms: Math.round(intentAt - started),
      dlq_ms: Math.round(dlqAt - intentAt),
      dedup_ms: Math.round(dedupMs),
      insert_ms: Math.round(storedAt - dlqAt - dedupMs),
      commit_ms: Math.round(performance.now() - storedAt),
      ms: Math.round(ms),
    },
    "batch stored",
  );
  return "done";
}

/**
 * Runs `fn` until it succeeds. Gives up only when the member is fenced (a
 * rejoin happened: the plan belongs to whoever owns the partitions now) or
 * stopping; the plan is then redone by the next reader, under the same token.
 * The fence is checked right before each attempt, in the same tick as the
 * call, so a commit never goes out under a generation that is not the write's.
 */
async function untilDone(d: WriteDeps, op: string, fn: () => Promise<unknown>): Promise<WriteOutcome> {
  for (let attempt = 1; ; attempt++) {
    if (d.fenced()) return "fenced";
    try {
      await fn();
      return "done";
    } catch (err) {
      if (d.fenced()) return "fenced";
      if (d.stopping()) return "stopped";
      const delay = backoffMs(attempt, d.retry.retryMinMs, d.retry.retryMaxMs);
      d.metrics.retries.inc({ op });
      d.logger.warn({ op, attempt, delay_ms: delay, err }, "store or broker call failed, retrying");
      await sleep(delay);
    }
  }
}

/** Exponential backoff with equal jitter (half fixed, half random), capped. */
export function backoffMs(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
