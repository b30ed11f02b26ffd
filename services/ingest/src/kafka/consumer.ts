import { msUntilTimeFlush } from "@tokenmeter/core";
import type { Batch, Consumer } from "kafkajs";
import { type PreparedPlan, preparePlan, type WriteDeps, type WriteOutcome, writePlan } from "./commit-protocol.js";
import type { KafkaConsumer, KafkaConsumerOptions } from "./consumer-options.js";
import { batchPolicyOf, consumerConfigOf, readerOptionsOf } from "./consumer-options.js";
import { batchPlan } from "./intent.js";
import { createLineArena } from "./line-arena.js";
import { nextWork, type Work } from "./next-work.js";
import { inThreadSlices, pooledSlices } from "./pooled-stager.js";
import { readMessagesAt } from "./range-reader.js";
import type { Redo } from "./redo.js";
import { loadRedos } from "./redo-setup.js";
import { createStager, stagedRange } from "./stage.js";
import { createStaging, rangeOf } from "./staging.js";
import { createWriteHealth } from "./write-health.js";

export { FETCH_MAX_WAIT_MS, type KafkaConsumer, type KafkaConsumerOptions } from "./consumer-options.js";

type EachBatchContext = { batch: Batch; resolveOffset(offset: string): void; heartbeat(): Promise<void> };

/**
 * One consumer-group member on the usage topic. Fetches are staged
 * (validated, priced, serialized) per partition while the previous insert
 * runs; a batch takes one contiguous range from each staged partition and is
 * stored as ONE insert in numbered steps (commit-protocol.ts) so that whatever
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
  const policy = batchPolicyOf(opts);
  const consumer: Consumer = opts.kafka.consumer(consumerConfigOf(opts));
  const admin = opts.kafka.admin();
  const readerOptions = readerOptionsOf(opts);
  const staging = createStaging();
  const stagerOptions = { topic: opts.topic, pricer: opts.pricer, maxEventBytes: opts.maxEventBytes, metrics: m, logger: log, now };
  const stager = createStager({ ...stagerOptions, arena: createLineArena() });
  const stage = stager.stage;
  /** Main-thread ms of pooled staging (packing, unpacking), reported with the next batch like the in-thread stager's. */
  const poolMs = { ms: 0 };
  const slicesOf = opts.stagePool ? pooledSlices(stager, opts.stagePool, stagerOptions, poolMs) : inThreadSlices(stager);
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
  const health = createWriteHealth(log);
  let stopping = false;

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

  /** 1. After a join: which assigned partitions carry a recorded plan (a redo before anything else on them), once per generation. */
  function ensureSetup(gen: number): Promise<void> {
    setup ??= loadRedos(
      {
        admin,
        kafka: opts.kafka,
        topic: opts.topic,
        groupId: opts.groupId,
        readerOptions,
        retry,
        log,
        metrics: m,
        live: () => gen === generation && !stopping,
        assigned: () => assigned,
        redoOf,
        schedule,
      },
      gen,
    );
    return setup;
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
    // A join clearing staging meanwhile ends it: the rest is fetched again from the committed offsets.
    const live = () => gen === generation && !stopping;
    for await (const items of slicesOf(p, messages, live)) {
      if (!live()) return;
      staging.append(p, items, performance.now());
      schedule();
    }
    if (!live()) return;
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
    const work = nextWork(redoOf, staging, policy, stopping, performance.now());
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
    health,
    fenced: () => gen !== generation,
    stopping: () => stopping,
    now,
    readOriginals: (partition, offsets) => readMessagesAt(opts.kafka, opts.topic, partition, offsets, readerOptions),
  });

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
    const commit = redo ? [...redo.owned] : plan.ranges.map((r) => r.partition);
    const flags = { redo: redo !== null, exact, commit, stageMs: stager.takeStageMs() + poolMs.ms };
    poolMs.ms = 0;
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
    ready: () => joined && !crashed && !stopping && !health.stuck(),
  };
}
