import { type Pricer, usageTsvLine } from "@tokenmeter/core";
import type { KafkaMessage } from "kafkajs";
import type { Logger } from "pino";
import { classifyMessage, type Drop, toDlqMessage } from "./dlq.js";
import type { LineArena } from "./line-arena.js";
import type { KafkaMetrics } from "./metrics.js";
import { kafkaSource } from "./source.js";
import type { StagedItem, StagedPoison, StagedRange } from "./staging.js";

export interface StagerOptions {
  topic: string;
  pricer: Pricer;
  /** A message larger than this is poison (DLQ, too_large) without being decoded. */
  maxEventBytes: number;
  /** Where serialized rows are kept until their batch is inserted. */
  arena: LineArena;
  metrics: KafkaMetrics;
  logger: Logger;
  /** Clock of validation (event_time bounds) and of DLQ timestamps. */
  now: () => number;
}

export interface Stager {
  /** Classifies, prices and serializes messages of one partition, in offset order. */
  stage(partition: number, messages: KafkaMessage[]): StagedItem[];
  /** Milliseconds spent staging since the last call (reported with the next batch). */
  takeStageMs(): number;
}

/**
 * The per-message work of the consumer, done while the previous insert runs:
 * a valid event becomes its llm_usage row (priced now, serialized into the
 * arena); anything else becomes a DLQ message with its reason, never an error.
 */
export function createStager(o: StagerOptions): Stager {
  let stageMs = 0;
  return {
    stage(partition, messages) {
      const t0 = performance.now();
      const at = o.now();
      const items: StagedItem[] = [];
      for (const msg of messages) {
        const bytes = msg.value?.length ?? 0;
        const c = classifyMessage(msg.value, { now: at, maxBytes: o.maxEventBytes });
        if (c.ok) {
          const e = c.event;
          const { chunk, start, end } = o.arena.add(usageTsvLine(e, o.pricer.price(e), kafkaSource(o.topic, partition, msg.offset)));
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
          items.push(poisonItem(o, partition, msg, c.drop, at));
        }
      }
      o.metrics.consumed.inc(messages.length);
      stageMs += performance.now() - t0;
      return items;
    },
    takeStageMs() {
      const ms = stageMs;
      stageMs = 0;
      return ms;
    },
  };
}

/** A message that goes to the DLQ with its reason (counted, logged at debug). */
export function poisonItem(
  o: Pick<StagerOptions, "topic" | "metrics" | "logger">,
  partition: number,
  msg: KafkaMessage,
  drop: Drop,
  at: number,
): StagedPoison {
  o.metrics.rejected.inc({ kind: drop.kind });
  o.logger.debug({ op: "dlq", partition, offset: msg.offset, kind: drop.kind, errors: drop.errors }, "poison message");
  return {
    offset: msg.offset,
    bytes: msg.value?.length ?? 0,
    poison: toDlqMessage({ topic: o.topic, partition, offset: msg.offset }, msg, drop, at),
  };
}

/** A partition's staged items as one range (a redo's messages, staged at redo time). */
export function stagedRange(partition: number, items: StagedItem[]): StagedRange {
  return { partition, items, bytes: items.reduce((n, i) => n + i.bytes, 0) };
}
