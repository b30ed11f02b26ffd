import { setTimeout as sleep } from "node:timers/promises";
import { retryDelayMs } from "@tokenmeter/core";
import type { Admin, Kafka } from "kafkajs";
import type { Logger } from "pino";
import { loadIntents } from "./intent.js";
import type { KafkaMetrics } from "./metrics.js";
import { type ReadRangesOptions, readRanges } from "./range-reader.js";
import { createRedo, type Redo, recordedPlans } from "./redo.js";

export interface RedoSetupContext {
  admin: Admin;
  kafka: Kafka;
  topic: string;
  groupId: string;
  readerOptions: ReadRangesOptions;
  retry: { retryMinMs: number; retryMaxMs: number };
  log: Logger;
  metrics: KafkaMetrics;
  /** Still the generation this setup is for, and not stopping: false ends every retry loop here. */
  live(): boolean;
  assigned(): ReadonlySet<number>;
  /** Owned partition → the recorded plan to redo before it moves on (filled here). */
  redoOf: Map<number, Redo>;
  /** Called when another member's ranges were read: a redo may now be complete. */
  schedule(): void;
}

/**
 * After a group join: the recorded plans (intents in the committed offsets'
 * metadata) of the assigned partitions become redos; the ranges of a plan's
 * partitions that another member owns now are read in the background by a
 * throwaway reader. Retried with backoff until done, fenced or stopping.
 */
export async function loadRedos(ctx: RedoSetupContext, gen: number): Promise<void> {
  for (let attempt = 1; ctx.live(); attempt++) {
    try {
      const intents = await loadIntents(ctx.admin, ctx.groupId, ctx.topic);
      if (!ctx.live()) return;
      for (const { plan, owned } of recordedPlans(intents, ctx.assigned())) {
        const redo = createRedo(plan, owned);
        for (const p of owned) ctx.redoOf.set(p, redo);
        if (redo.foreign().length > 0) void readForeign(ctx, redo);
        ctx.log.info({ op: "redo_pending", ranges: plan.ranges, owned, generation: gen }, "recorded plan found; redoing it first");
      }
      return;
    } catch (err) {
      ctx.log.warn({ op: "load_intents", attempt, err }, "could not read committed offsets; retrying");
      await sleep(retryDelayMs(attempt, ctx.retry));
    }
  }
}

/** A split plan: the ranges of partitions another member owns now. */
async function readForeign(ctx: RedoSetupContext, redo: Redo): Promise<void> {
  for (let attempt = 1; ctx.live(); attempt++) {
    try {
      const read = await readRanges(ctx.kafka, ctx.topic, redo.foreign(), ctx.readerOptions);
      if (!ctx.live()) return;
      ctx.metrics.foreignReads.inc(read.size);
      redo.addRead(read);
      ctx.schedule();
      return;
    } catch (err) {
      ctx.log.warn({ op: "read_ranges", attempt, ranges: redo.foreign(), err }, "could not read another member's ranges; retrying");
      await sleep(retryDelayMs(attempt, ctx.retry));
    }
  }
}
