import type { Store } from "@tokenmeter/clickhouse";
import { type BatchPolicy, flushReason, msUntilTimeFlush, type Pricer, resolveBatchPolicy, usageTsvLine } from "@tokenmeter/core";
import type { Batch, Consumer, Kafka, KafkaMessage, Producer } from "kafkajs";
import type { Logger } from "pino";
import { classifyMessage, toDlqMessage } from "./dlq.js";
import { type BatchPlan, batchPlan, loadIntents, planKey } from "./intent.js";
import type { KafkaMetrics } from "./kafka-metrics.js";
import { createLineArena } from "./line-arena.js";
import { kafkaSource, type StoredLookup } from "./plan-writer.js";
import { readRanges } from "./range-reader.js";
import { createRedo, type Redo } from "./redo.js";
import { createStaging, rangeOf, type StagedItem, type StagedRange } from "./staging.js";
import { backoffMs, type PreparedPlan, preparePlan, sleep, type WriteDeps, type WriteOutcome, writePlan } from "./write-plan.js";

export interface KafkaConsumerOptions {
  kafka: Kafka;
  store: Store;
  pricer: Pricer;
  logger: Logger;
  metrics: KafkaMetrics;
  /** Acks DLQ messages (acks=all); shared by the members of a process. */
  producer: Producer;
  /** Shared by the members of a process: concurrent stored-copy lookups run as one query. */
  lookup: StoredLookup;
  topic: string;
  dlqTopic: string;
  groupId: string;
  /** Messages per insert, across this member's partitions. */
  maxBatchRows: number;
  /** Message bytes per insert. */
  maxBatchBytes: number;
  /** A message waits at most this long to be taken into an insert (freshness; the real clock, not `now`). */
  maxDelayMs: number;
  /** Message bytes read but not yet stored (staged + being written) before fetching waits: the memory bound. */
  maxInFlightBytes: number;
  maxEventBytes: number;
  maxBytesPerPartition: number;
  concurrency: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Backoff of store and broker retries; the consumer retries until stored, stopped, or rebalanced. */
  retry?: { retryMinMs: number; retryMaxMs: number };
  /** Clock of validation (event_time bounds, DLQ timestamps); tests pin it. */
  now?: () => number;
}

export interface KafkaConsumer {
  start(): Promise<void>;
  /** Stores what it has read (insert + commit), then leaves the group. */
  stop(): Promise<void>;
  /** Joined the group and not crashed: /readyz. */
  ready(): boolean;
}

type EachBatchContext = { batch: Batch; resolveOffset(offset: string): void; heartbeat(): Promise<void> };
type Work = { redo: Redo } | { ranges: StagedRange[] };

/**
 * Messages staged per turn of the event loop. A fetch brings ~6,000 messages
 * per partition, ~50 ms of parsing; staged in one go, every step of the batch
 * being written (intent commit, lookups, insert, offset commit) waits that
 * long for its completion to run, and the writer idles.
 */
const STAGE_SLICE = 1_000;

/**
 * One consumer-group member on the usage topic. Fetches are staged
 * (validated, priced, serialized) per partition while the previous insert
 * runs; a batch takes one contiguous range from each staged partition and is
 * stored as ONE insert in numbered steps (write-plan.ts) so that whatever
 * breaks in between, storing it again has exactly the same effect as storing
 * it once (docs/exactly-once.md). One insert per batch, not per partition:
 * the engine's cost per insert is mostly per part, so a few large inserts
 * cost far less than many small ones (docs/benchmarks.md §1).
 */
export function createKafkaConsumer(opts: KafkaConsumerOptions): KafkaConsumer {
  const log = opts.logger.child({ component: "kafka-consumer", topic: opts.topic, group: opts.groupId });
  const now = opts.now ?? Date.now;
  const retry = opts.retry ?? { retryMinMs: 100, retryMaxMs: 5_000 };
  const m = opts.metrics;
  const policy: BatchPolicy = resolveBatchPolicy({
    maxRows: opts.maxBatchRows,
    maxBytes: opts.maxBatchBytes,
    maxDelayMs: opts.maxDelayMs,
    idleMs: 0,
    maxBufferedBytes: Math.max(opts.maxInFlightBytes, opts.maxBatchBytes),
  });
  const consumer: Consumer = opts.kafka.consumer({
    groupId: opts.groupId,
    sessionTimeout: opts.sessionTimeoutMs,
    heartbeatInterval: opts.heartbeatIntervalMs,
    maxBytesPerPartition: opts.maxBytesPerPartition,
    maxBytes: Math.max(opts.maxBytesPerPartition * opts.concurrency, 10 * 1024 * 1024),
    retry: { retries: 10 },
  });
  const admin = opts.kafka.admin();
  const staging = createStaging();
  const arena = createLineArena();
  /** Bumped by every group join: work started under an older generation is fenced. */
  let generation = 0;
  let assigned = new Set<number>();
  /** Loads the recorded plans of the assigned partitions, once per generation. */
  let setup: Promise<void> | null = null;
  /** Owned partition → the recorded plan to redo before it moves on. */
  const redoOf = new Map<number, Redo>();
  let flushing: Promise<WriteOutcome> | null = null;
  let writingBytes = 0;
  let timer: NodeJS.Timeout | null = null;
  let wake: Array<() => void> = [];
  let joined = false;
  let crashed = false;
  let stopping = false;
  let stageMs = 0;

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true;
    generation++;
    // Offsets restart at the committed ones: what was staged is fetched again, recorded plans are reloaded.
    assigned = new Set((e.payload.memberAssignment[opts.topic] ?? []) as number[]);
    staging.clear();
    redoOf.clear();
    setup = null;
    m.rebalances.inc();
    log.info({ op: "group_join", member: e.payload.memberId, assignment: e.payload.memberAssignment }, "joined group");
  });
  consumer.on(consumer.events.CRASH, (e) => {
    crashed = !e.payload.restart;
    log.error({ op: "consumer_crash", err: e.payload.error, restart: e.payload.restart }, "consumer crashed");
  });

  const excluded = (): ReadonlySet<number> => new Set(redoOf.keys());

  /** 1. After a join: which assigned partitions carry a recorded plan (a redo before anything else on them). */
  function ensureSetup(gen: number): Promise<void> {
    setup ??= (async () => {
      for (let attempt = 1; gen === generation && !stopping; attempt++) {
        try {
          const intents = await loadIntents(admin, opts.groupId, opts.topic);
          if (gen !== generation) return;
          const plans = new Map<string, { plan: BatchPlan; owned: number[] }>();
          for (const [partition, plan] of intents) {
            if (!assigned.has(partition)) continue;
            const entry = plans.get(planKey(plan)) ?? { plan, owned: [] };
            entry.owned.push(partition);
            plans.set(planKey(plan), entry);
          }
          for (const { plan, owned } of plans.values()) {
            const redo = createRedo(plan, owned);
            for (const p of owned) redoOf.set(p, redo);
            if (redo.foreign().length > 0) void readForeign(redo, gen);
            log.info({ op: "redo_pending", ranges: plan.ranges, owned }, "recorded plan found; redoing it first");
          }
          return;
        } catch (err) {
          log.warn({ op: "load_intents", attempt, err }, "could not read committed offsets; retrying");
          await sleep(backoffMs(attempt, retry.retryMinMs, retry.retryMaxMs));
        }
      }
    })();
    return setup;
  }

  /** A split plan: the ranges of partitions another member owns now, read by a throwaway reader. */
  async function readForeign(redo: Redo, gen: number): Promise<void> {
    for (let attempt = 1; gen === generation && !stopping; attempt++) {
      try {
        const read = await readRanges(opts.kafka, opts.topic, redo.foreign(), {
          groupPrefix: opts.groupId,
          maxBytesPerPartition: opts.maxBytesPerPartition,
          timeoutMs: Math.max(30_000, opts.sessionTimeoutMs),
        });
        if (gen !== generation) return;
        m.foreignReads.inc(read.size);
        redo.addRead(read);
        schedule();
        return;
      } catch (err) {
        log.warn({ op: "read_ranges", attempt, ranges: redo.foreign(), err }, "could not read another member's ranges; retrying");
        await sleep(backoffMs(attempt, retry.retryMinMs, retry.retryMaxMs));
      }
    }
  }

  /** 2. Every fetched batch: redo messages aside, the rest staged; waits (heartbeating) while memory is full. */
  async function eachBatch(ctx: EachBatchContext): Promise<void> {
    const { batch } = ctx;
    if (batch.messages.length === 0) return;
    const gen = generation;
    await ensureSetup(gen);
    // Not resolved: a fenced or stopping member leaves the messages to whoever reads next.
    if (gen !== generation || stopping) return;
    const p = batch.partition;
    let messages = batch.messages;
    const redo = redoOf.get(p);
    if (redo?.waiting(p)) messages = redo.collect(p, messages, batch.lastOffset());
    for (let i = 0; i < messages.length; i += STAGE_SLICE) {
      if (i > 0) {
        // Let the running batch's statement completions through (see STAGE_SLICE).
        await new Promise<void>((r) => setImmediate(r));
        // A join cleared staging meanwhile: the rest is fetched again from the committed offsets.
        if (gen !== generation || stopping) return;
      }
      staging.append(p, stage(p, messages.slice(i, i + STAGE_SLICE)), performance.now());
      schedule();
    }
    ctx.resolveOffset(batch.lastOffset());
    m.lag.set(
      { topic: batch.topic, partition: String(p) },
      Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(batch.lastOffset()) - 1n)),
    );
    schedule();
    while (staging.bytes() + writingBytes > opts.maxInFlightBytes && !redosWaiting() && gen === generation && !stopping) {
      await new Promise<void>((r) => {
        wake.push(r);
        setTimeout(r, 1_000);
      });
      await ctx.heartbeat();
    }
  }

  /** Classify, price and serialize: the per-message work, done while the previous insert runs. */
  function stage(partition: number, messages: KafkaMessage[]): StagedItem[] {
    const t0 = performance.now();
    const at = now();
    const items: StagedItem[] = [];
    for (const msg of messages) {
      const bytes = msg.value?.length ?? 0;
      const c = classifyMessage(msg.value, { now: at, maxBytes: opts.maxEventBytes });
      if (c.ok) {
        const e = c.event;
        const { chunk, start, end } = arena.add(usageTsvLine(e, opts.pricer.price(e), kafkaSource(opts.topic, partition, msg.offset)));
        items.push({
          offset: msg.offset,
          bytes,
          org_id: e.org_id,
          event_id: e.event_id,
          timeMs: e.event_time_ms,
          partition,
          chunk,
          start,
          end,
        });
      } else {
        items.push({
          offset: msg.offset,
          bytes,
          poison: toDlqMessage({ topic: opts.topic, partition, offset: msg.offset }, msg, c.drop, at),
        });
        m.rejected.inc({ kind: c.drop.kind });
        log.debug({ op: "dlq", partition, offset: msg.offset, kind: c.drop.kind, errors: c.drop.errors }, "poison message");
      }
    }
    m.consumed.inc(messages.length);
    stageMs += performance.now() - t0;
    return items;
  }

  const redosWaiting = () => [...redoOf.entries()].some(([p, r]) => r.waiting(p));

  /**
   * 3. One batch at a time, in order: a complete redo first, else a batch once
   * the policy says so. (Choosing the next batch's rows while the previous one
   * inserts was tried twice, measured, and dropped: on 2 cores the lookup and
   * the insert compete for the same CPU, docs/benchmarks.md §6.)
   */
  function schedule(): void {
    if (flushing) return;
    const gen = generation;
    const work = nextWork();
    if (!work) {
      armTimer();
      return;
    }
    let bytes = 0;
    flushing = (async (): Promise<WriteOutcome> => {
      const prepared = await prepare(work, gen);
      bytes = prepared.bytes;
      if (typeof prepared.result === "string") return prepared.result;
      const outcome = await writePlan(deps(gen), prepared.result);
      // A stored redo releases its partitions to ordinary batches.
      if ("redo" in work && outcome === "done" && gen === generation) for (const p of work.redo.owned) redoOf.delete(p);
      return outcome;
    })();
    flushing
      .catch((err) => log.error({ op: "flush", err }, "batch write failed unexpectedly; left to the next attempt"))
      .finally(() => {
        flushing = null;
        writingBytes -= bytes;
        m.inFlightBytes.set(staging.bytes() + writingBytes);
        const w = wake;
        wake = [];
        for (const f of w) f();
        schedule();
      });
  }

  function nextWork(): Work | null {
    for (const redo of new Set(redoOf.values())) if (redo.complete()) return { redo };
    const state = staging.state(excluded());
    if (state.rows === 0 || (!stopping && flushReason(state, performance.now(), policy) === null)) return null;
    return { ranges: staging.take({ maxRows: policy.maxRows, exclude: excluded() }) };
  }

  function armTimer(): void {
    if (timer) clearTimeout(timer);
    timer = null;
    const ms = msUntilTimeFlush(staging.state(excluded()), performance.now(), policy);
    if (ms !== null) timer = setTimeout(schedule, ms);
  }

  const deps = (gen: number): WriteDeps => ({
    consumer,
    store: opts.store,
    producer: opts.producer,
    lookup: opts.lookup,
    dlqTopic: opts.dlqTopic,
    metrics: m,
    logger: log,
    retry,
    fenced: () => gen !== generation,
    stopping: () => stopping,
    now,
    readOriginals: (partition, offsets) => readOriginals(partition, offsets),
  });

  /** Reads back the messages at some offsets of one partition (rare: rows the engine refused). */
  async function readOriginals(partition: number, offsets: readonly string[]): Promise<KafkaMessage[]> {
    const sorted = [...offsets].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    const read = await readRanges(opts.kafka, opts.topic, [{ partition, first: sorted[0]!, last: sorted[sorted.length - 1]! }], {
      groupPrefix: opts.groupId,
      maxBytesPerPartition: opts.maxBytesPerPartition,
      timeoutMs: Math.max(30_000, opts.sessionTimeoutMs),
    });
    const wanted = new Set(offsets);
    return (read.get(partition) ?? []).filter((msg) => wanted.has(msg.offset));
  }

  /** The batch's plan and rows; a redo's messages are classified only now, exactly as they were the first time. */
  async function prepare(work: Work, gen: number): Promise<{ result: PreparedPlan | WriteOutcome; bytes: number }> {
    const redo = "redo" in work ? work.redo : null;
    const ranges =
      "redo" in work
        ? work.redo.messages().map(({ range, messages }) => stagedRange(range.partition, stage(range.partition, messages)))
        : work.ranges;
    const plan = redo ? redo.plan : batchPlan(opts.topic, ranges.map(rangeOf));
    const bytes = ranges.reduce((n, r) => n + r.bytes, 0);
    writingBytes += bytes;
    m.inFlightBytes.set(staging.bytes() + writingBytes);
    const exact = redo ? redo.exact() : true;
    if (redo && !exact) {
      log.warn({ op: "redo", ranges: plan.ranges }, "recorded plan has offsets missing from the log; redone under another token");
    }
    const flags = { redo: redo !== null, exact, commit: redo ? [...redo.owned] : plan.ranges.map((r) => r.partition), stageMs };
    stageMs = 0;
    return { result: await preparePlan(deps(gen), plan, ranges, flags), bytes };
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
      if (timer) clearTimeout(timer);
      // Store what was read; a write that fails now is left to the next owner (its plan is recorded).
      for (;;) {
        schedule();
        if (!flushing) break;
        if ((await flushing.catch(() => "stopped")) !== "done") break;
      }
      await consumer.disconnect();
      await admin.disconnect();
      joined = false;
    },
    ready: () => joined && !crashed && !stopping,
  };
}

function stagedRange(partition: number, items: StagedItem[]): StagedRange {
  return { partition, items, bytes: items.reduce((n, i) => n + i.bytes, 0) };
}
