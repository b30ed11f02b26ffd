import type { KafkaMessage } from "kafkajs";
import { STAGE_SLICE } from "./consumer-options.js";
import { poisonItem, type Stager, type StagerOptions } from "./stage.js";
import type { StagePool } from "./stage-pool.js";
import { packSlice, type SliceResult } from "./stage-slice.js";
import type { StagedItem } from "./staging.js";

/** Stages a fetch's messages slice by slice, in offset order, for as long as `live()` holds. */
export type SliceStager = (partition: number, messages: KafkaMessage[], live: () => boolean) => AsyncGenerator<StagedItem[]>;

/**
 * In-thread: one slice per turn of the event loop, yielding between them so
 * the batch being written gets its completions (see STAGE_SLICE).
 */
export function inThreadSlices(stager: Stager): SliceStager {
  return async function* (partition, messages, live) {
    for (let i = 0; i < messages.length; i += STAGE_SLICE) {
      if (i > 0) {
        await new Promise<void>((r) => setImmediate(r));
        if (!live()) return;
      }
      yield stager.stage(partition, messages.slice(i, i + STAGE_SLICE));
    }
  };
}

/**
 * With a pool: every slice of the fetch is handed to the workers at once and
 * taken back in order. The main thread only packs the values and turns each
 * result into staged items (the rows stay in the transferred buffer, which
 * becomes their line arena). A slice the pool gives back (a worker died, the
 * prices changed) is staged in-thread, from the messages still held here.
 */
export function pooledSlices(stager: Stager, pool: StagePool, o: Omit<StagerOptions, "arena">, mainMs: { ms: number }): SliceStager {
  return async function* (partition, messages, live) {
    const t0 = performance.now();
    const at = o.now();
    const slices: KafkaMessage[][] = [];
    for (let i = 0; i < messages.length; i += STAGE_SLICE) slices.push(messages.slice(i, i + STAGE_SLICE));
    const pending = slices.map((s) => pool.run(packSlice(o.topic, partition, s, at, o.maxEventBytes)));
    mainMs.ms += performance.now() - t0;
    for (const [i, slice] of slices.entries()) {
      const result = await pending[i]!;
      if (!live()) return;
      yield result ? itemsOf(o, partition, slice, result, at, mainMs) : stager.stage(partition, slice);
    }
  };
}

/** A worker's result as the staged items the in-thread stager would have made of the same messages. */
export function itemsOf(
  o: Omit<StagerOptions, "arena">,
  partition: number,
  messages: readonly KafkaMessage[],
  r: SliceResult,
  at: number,
  mainMs: { ms: number },
): StagedItem[] {
  const t0 = performance.now();
  const chunk = Buffer.from(r.lines);
  const items: StagedItem[] = messages.map((msg, i) => {
    const bytes = msg.value?.length ?? 0;
    const drop = r.drops[i];
    if (drop) return poisonItem(o, partition, msg, drop, at);
    return {
      offset: msg.offset,
      bytes,
      org_id: r.orgIds[i]!,
      event_id: r.eventIds[i]!,
      timeMs: r.timeMs[i]!,
      partition,
      chunk,
      start: r.ranges[2 * i]!,
      end: r.ranges[2 * i + 1]!,
    };
  });
  o.metrics.consumed.inc(messages.length);
  mainMs.ms += performance.now() - t0;
  return items;
}
