import type { Store } from "@tokenmeter/clickhouse";
import { type Pricer, toUsageRow, type UsageRow } from "@tokenmeter/core";
import type { Batch, Consumer, Kafka, KafkaMessage, Message, Producer } from "kafkajs";
import type { Logger } from "pino";
import { classifyMessage, publishToDlq, toDlqMessage } from "./dlq.js";
import { encodeIntent, type Intent, loadIntents } from "./intent.js";
import type { KafkaMetrics } from "./kafka-metrics.js";
import { insertRange, kafkaSource, type OffsetRange, type StoredLookup, selectRows, toPayload } from "./range-writer.js";

export interface KafkaConsumerOptions {
  kafka: Kafka;
  store: Store;
  pricer: Pricer;
  logger: Logger;
  metrics: KafkaMetrics;
  /** Acks DLQ messages (acks=all); shared by the members of a process. */
  producer: Producer;
  /** Shared by the members of a process: bounds message bytes being written (backpressure). */
  gate: InFlightGate;
  /** Shared by the members of a process: concurrent ranges' stored-copy lookups run as one query. */
  lookup: StoredLookup;
  topic: string;
  dlqTopic: string;
  groupId: string;
  /** Messages per insert. */
  maxBatchRows: number;
  maxEventBytes: number;
  maxBytesPerPartition: number;
  concurrency: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Backoff of store retries; the consumer retries until stored, stopped, or rebalanced. */
  retry?: { retryMinMs: number; retryMaxMs: number };
  now?: () => number;
}

export interface KafkaConsumer {
  start(): Promise<void>;
  /** Finishes the range in progress (insert + commit), then leaves the group. */
  stop(): Promise<void>;
  /** Joined the group and not crashed: /readyz. */
  ready(): boolean;
}

/** What processing one range ended with; anything but "done" stops the batch without committing. */
type Outcome = "done" | "stopped" | "fenced";

/**
 * One consumer-group member on the usage topic. Each partition's messages are
 * taken as contiguous offset ranges; a range is handled in numbered steps
 * (see handleRange) so that whatever breaks in between, storing it again has
 * exactly the same effect as storing it once (docs/exactly-once.md).
 */
export function createKafkaConsumer(opts: KafkaConsumerOptions): KafkaConsumer {
  const log = opts.logger.child({ component: "kafka-consumer", topic: opts.topic, group: opts.groupId });
  const now = opts.now ?? Date.now;
  const retry = opts.retry ?? { retryMinMs: 100, retryMaxMs: 5_000 };
  const m = opts.metrics;
  const consumer: Consumer = opts.kafka.consumer({
    groupId: opts.groupId,
    sessionTimeout: opts.sessionTimeoutMs,
    heartbeatInterval: opts.heartbeatIntervalMs,
    maxBytesPerPartition: opts.maxBytesPerPartition,
    maxBytes: Math.max(opts.maxBytesPerPartition * opts.concurrency, 10 * 1024 * 1024),
    retry: { retries: 10 },
  });
  const admin = opts.kafka.admin();
  let joined = false;
  let crashed = false;
  let stopping = false;
  let lastEventSeconds = 0;
  /** Messages of a range being redone that came in more than one fetch; dropped on rebalance. */
  const carries = new Map<number, { intent: Intent; messages: KafkaMessage[] }>();
  /**
   * Ranges this member recorded but did not finish (insert failed for good, heartbeat
   * error, stop). kafkajs re-fetches them without a rejoin, and the recorded intent
   * must win then too, or a half-stored insert would be redone under another token.
   */
  const unfinished = new Map<number, Intent>();
  /** Intents recorded by the previous owners, loaded once per generation and used once each. */
  let intents: Promise<Map<number, Intent>> | null = null;

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true;
    intents = null;
    carries.clear();
    // After a (re)join the committed intent says the same; it is reloaded from Kafka.
    unfinished.clear();
    m.rebalances.inc();
    log.info({ op: "group_join", member: e.payload.memberId, assignment: e.payload.memberAssignment }, "joined group");
  });
  consumer.on(consumer.events.CRASH, (e) => {
    crashed = !e.payload.restart;
    log.error({ op: "consumer_crash", err: e.payload.error, restart: e.payload.restart }, "consumer crashed");
  });

  function pendingIntent(partition: number): Promise<Intent | undefined> {
    intents ??= loadIntents(admin, opts.groupId, opts.topic).catch((err) => {
      intents = null;
      throw err;
    });
    return intents.then((all) => {
      const i = all.get(partition);
      all.delete(partition);
      return i;
    });
  }

  async function eachBatch(ctx: {
    batch: Batch;
    resolveOffset(offset: string): void;
    heartbeat(): Promise<void>;
    pause(): () => void;
    isRunning(): boolean;
    isStale(): boolean;
  }): Promise<void> {
    const { batch } = ctx;
    let messages = batch.messages;
    if (messages.length === 0) return;
    log.debug({ op: "batch", partition: batch.partition, first: messages[0]!.offset, n: messages.length }, "batch");
    // A range a previous owner started (recorded intent) must be redone exactly, or its token would not match.
    let redo: Intent | undefined;
    const carried = carries.get(batch.partition);
    if (carried) {
      carries.delete(batch.partition);
      const after = BigInt(carried.messages[carried.messages.length - 1]!.offset);
      messages = [...carried.messages, ...messages.filter((msg) => BigInt(msg.offset) > after)];
      redo = carried.intent;
    } else {
      const intent = unfinished.get(batch.partition) ?? (await pendingIntent(batch.partition));
      if (intent !== undefined && intent.first === messages[0]!.offset) redo = intent;
    }
    // A fetch may return less than the recorded range: hold what came (bounded by the
    // range) and fetch on, so the redo covers exactly the recorded offsets.
    const lastFetched = messages[messages.length - 1]!.offset;
    if (redo && BigInt(lastFetched) < BigInt(redo.last)) {
      carries.set(batch.partition, { intent: redo, messages });
      ctx.resolveOffset(lastFetched);
      return;
    }
    while (messages.length > 0 && ctx.isRunning() && !ctx.isStale() && !stopping) {
      const take = redo ? countUpTo(messages, redo.last) : Math.min(messages.length, opts.maxBatchRows);
      const unit = messages.slice(0, take);
      const last = unit[unit.length - 1]!.offset;
      const exact = redo !== undefined && last === redo.last;
      if (redo && !exact) {
        log.warn(
          { op: "redo", partition: batch.partition, intent: redo, fetched_last: last },
          "recorded range has offsets missing from the log; redone with a different token",
        );
      }
      const outcome = await handleRange(ctx, unit, { redo: redo !== undefined, keepOwn: exact });
      if (outcome !== "done") return;
      redo = undefined;
      messages = messages.slice(take);
      m.lag.set(
        { topic: batch.topic, partition: String(batch.partition) },
        Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(last) - 1n)),
      );
    }
  }

  /**
   * One offset range of one partition:
   * 1. record the intent (committed offset stays at `first`, metadata names `last`),
   * 2. classify every message; poison ones to the DLQ (acked),
   * 3. price, drop duplicates, insert under the range token (retried until stored),
   * 4. commit `last + 1`, clearing the intent.
   * A crash anywhere leaves the committed offset at `first` and the intent in place,
   * so the next owner redoes the same range under the same token.
   */
  async function handleRange(
    ctx: Parameters<typeof eachBatch>[0],
    unit: KafkaMessage[],
    flags: { redo: boolean; keepOwn: boolean },
  ): Promise<Outcome> {
    const { topic, partition } = ctx.batch;
    const range: OffsetRange = { topic, partition, first: unit[0]!.offset, last: unit[unit.length - 1]!.offset };
    const bytes = unit.reduce((n, msg) => n + (msg.value?.length ?? 0), 0);
    const started = performance.now();
    const release = await opts.gate.acquire(bytes, ctx);
    m.inFlightBytes.set(opts.gate.inFlight());
    try {
      // 1. Intent. A fenced member (rebalanced away) fails here and writes nothing.
      if (!flags.redo) {
        try {
          await consumer.commitOffsets([{ topic, partition, offset: range.first, metadata: encodeIntent(range) }]);
        } catch (err) {
          log.warn({ op: "intent", partition, range, err }, "could not record intent; leaving the range to the next owner");
          return "fenced";
        }
      } else {
        m.redone.inc();
      }
      unfinished.set(partition, { first: range.first, last: range.last });
      // 2. Classify; DLQ what is poison.
      const at = now();
      const rows: UsageRow[] = [];
      const poison: Message[] = [];
      let newest = 0;
      for (const msg of unit) {
        const c = classifyMessage(msg.value, { now: at, maxBytes: opts.maxEventBytes });
        if (c.ok) {
          rows.push(toUsageRow(c.event, opts.pricer.price(c.event), kafkaSource(topic, partition, msg.offset)));
          if (c.event.event_time_ms > newest) newest = c.event.event_time_ms;
        } else {
          poison.push(toDlqMessage({ topic, partition, offset: msg.offset }, msg, c.drop, at));
          m.rejected.inc({ kind: c.drop.kind });
          log.debug({ op: "dlq", partition, offset: msg.offset, kind: c.drop.kind, errors: c.drop.errors }, "poison message");
        }
      }
      m.consumed.inc(unit.length);
      const dlqOk = await untilDone(ctx, "dlq", () => publishToDlq(opts.producer, opts.dlqTopic, poison));
      if (dlqOk !== "done") return dlqOk;
      // 3. Insert under the range token.
      let inserted = 0;
      let duplicates = 0;
      const prepared = performance.now();
      let dedupMs = 0;
      const stored = await untilDone(ctx, "insert", async () => {
        const t0 = performance.now();
        const sel = await selectRows(opts.lookup, rows, { keepOwn: flags.keepOwn });
        dedupMs = performance.now() - t0;
        const payload = toPayload(sel.rows);
        await insertRange(opts.store, range, payload);
        inserted = sel.rows.length;
        duplicates = sel.duplicates;
        if (payload.length > 0) m.batchBytes.observe(payload.length);
      });
      if (stored !== "done") return stored;
      const storedAt = performance.now();
      // 4. Commit past the range; this also clears the intent.
      try {
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(range.last) + 1n).toString(), metadata: null }]);
      } catch (err) {
        log.warn({ op: "commit", partition, range, err }, "commit failed after insert; the next owner redoes the range (deduplicated)");
        return "fenced";
      }
      unfinished.delete(partition);
      ctx.resolveOffset(range.last);
      m.inserted.inc(inserted);
      m.duplicates.inc(duplicates);
      m.batchRows.observe(inserted);
      if (newest / 1000 > lastEventSeconds) {
        lastEventSeconds = newest / 1000;
        m.lastEventTime.set(lastEventSeconds);
      }
      const ms = performance.now() - started;
      m.flushSeconds.observe(ms / 1000);
      log.info(
        {
          op: "flush",
          partition,
          first: range.first,
          last: range.last,
          rows: inserted,
          duplicates,
          dlq: poison.length,
          redo: flags.redo,
          prepare_ms: Math.round(prepared - started),
          dedup_ms: Math.round(dedupMs),
          insert_ms: Math.round(storedAt - prepared - dedupMs),
          commit_ms: Math.round(performance.now() - storedAt),
          ms: Math.round(ms),
        },
        "range stored",
      );
      return "done";
    } finally {
      release();
      m.inFlightBytes.set(opts.gate.inFlight());
    }
  }

  /**
   * Runs `fn` until it succeeds, heartbeating while it runs and between
   * attempts (kafkajs has no background heartbeat). Gives up only when the
   * member stops or loses the partition; the range is then redone by whoever
   * owns it next, under the same token.
   */
  async function untilDone(ctx: Parameters<typeof eachBatch>[0], op: string, fn: () => Promise<void>): Promise<Outcome> {
    for (let attempt = 1; ; attempt++) {
      let fenced = false;
      const beat = setInterval(() => {
        ctx.heartbeat().catch(() => {
          fenced = true;
        });
      }, opts.heartbeatIntervalMs);
      try {
        await fn();
        return fenced ? "fenced" : "done";
      } catch (err) {
        if (fenced) return "fenced";
        if (!ctx.isRunning() || stopping) return "stopped";
        const delay = backoffMs(attempt, retry.retryMinMs, retry.retryMaxMs);
        m.retries.inc({ op });
        log.warn({ op, attempt, delay_ms: delay, err }, "store or broker call failed, retrying");
        await sleep(delay);
        try {
          await ctx.heartbeat();
        } catch {
          return "fenced";
        }
        if (ctx.isStale()) return "fenced";
      } finally {
        clearInterval(beat);
      }
    }
  }

  return {
    async start() {
      await admin.connect();
      await consumer.connect();
      await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: opts.concurrency,
        eachBatch: (ctx) => eachBatch(ctx),
      });
    },
    async stop() {
      stopping = true;
      await consumer.disconnect();
      await admin.disconnect();
      joined = false;
    },
    ready: () => joined && !crashed && !stopping,
  };
}

/** How many leading messages have offsets up to `last` (inclusive). */
function countUpTo(messages: KafkaMessage[], last: string): number {
  const end = BigInt(last);
  let n = 0;
  while (n < messages.length && BigInt(messages[n]!.offset) <= end) n++;
  return n;
}

/** Bytes of messages being written across a process's partitions; over the bound, partitions pause. */
export interface InFlightGate {
  acquire(bytes: number, ctx: { pause(): () => void; heartbeat(): Promise<void> }): Promise<() => void>;
  inFlight(): number;
}

/**
 * The backpressure gate: a range that does not fit pauses its partition
 * (kafkajs stops fetching it) and waits, heartbeating, until ranges in
 * flight finish. An empty gate always admits, so one big range still moves.
 */
export function createInFlightGate(maxBytes: number): InFlightGate {
  let used = 0;
  let waiters: Array<() => void> = [];
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  return {
    async acquire(bytes, ctx) {
      if (used > 0 && used + bytes > maxBytes) {
        const resume = ctx.pause();
        try {
          while (used > 0 && used + bytes > maxBytes) {
            await Promise.race([new Promise<void>((r) => waiters.push(r)), sleep(1_000)]);
            await ctx.heartbeat().catch(() => {});
          }
        } finally {
          resume();
        }
      }
      used += bytes;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        used -= bytes;
        wake();
      };
    },
    inFlight: () => used,
  };
}

/** Exponential backoff with equal jitter (half fixed, half random), capped. */
export function backoffMs(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
