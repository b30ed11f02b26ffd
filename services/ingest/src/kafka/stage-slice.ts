import { type Pricer, reportedOrUnpriced, usageTsvLine } from "@tokenmeter/core";
import { PriceBook, type PriceOverride, type PriceVersion } from "@tokenmeter/pricing";
import type { KafkaMessage } from "kafkajs";
import { classifyMessage, type Drop } from "./dlq.js";
import { kafkaSource } from "./source.js";

/**
 * One slice of a partition's messages as a worker thread stages it: the
 * message values packed into one transferable buffer (`bounds` holds each
 * value's [start, end), -1 for a null value), the rest plain data.
 */
export interface SliceJob {
  topic: string;
  partition: number;
  offsets: string[];
  values: ArrayBuffer;
  bounds: Int32Array<ArrayBuffer>;
  /** Clock of validation, read once by the main thread for the whole slice. */
  now: number;
  maxEventBytes: number;
}

/**
 * A staged slice: the serialized rows in one buffer (transferred back, kept
 * as the rows' line arena) and, per message, either its line's range and
 * keys or why it is poison. `priceSerial` names the price table it was priced with.
 */
export interface SliceResult {
  priceSerial: number;
  lines: ArrayBuffer;
  /** Per message: [start, end) of its line in `lines`; -1, -1 for poison. */
  ranges: Int32Array<ArrayBuffer>;
  timeMs: Float64Array<ArrayBuffer>;
  orgIds: string[];
  eventIds: string[];
  /** Per message: null, or its drop reason. */
  drops: (Drop | null)[];
}

/** A price table a worker can rebuild its pricer from; `serial` changes with every swap. */
export type WorkerPrices =
  | { kind: "reported"; serial: number }
  | { kind: "book"; serial: number; versions: readonly PriceVersion[]; overrides: readonly PriceOverride[] };

/** Where a worker's prices come from: the main thread's pricer, described as data. */
export interface PriceFeed {
  serial(): number;
  prices(): WorkerPrices;
}

/** The feed of a pricer a worker can copy (the price book, reported-or-unpriced); null for any other. */
export function priceFeedOf(p: Pricer): PriceFeed | null {
  if (p === reportedOrUnpriced) return { serial: () => 0, prices: () => ({ kind: "reported", serial: 0 }) };
  if (p instanceof PriceBook) return { serial: () => p.serial, prices: () => ({ kind: "book", serial: p.serial, ...p.tables() }) };
  return null;
}

/** The pricer a worker prices with, from the feed's data. */
export function pricerOf(w: WorkerPrices): Pricer {
  return w.kind === "reported" ? reportedOrUnpriced : new PriceBook(w.versions, undefined, w.overrides);
}

/** Packs a slice's messages for a worker (one copy of the values into a buffer that is transferred, not cloned). */
export function packSlice(
  topic: string,
  partition: number,
  messages: readonly KafkaMessage[],
  now: number,
  maxEventBytes: number,
): SliceJob {
  let total = 0;
  for (const m of messages) total += m.value?.length ?? 0;
  const values = new ArrayBuffer(total);
  const into = Buffer.from(values);
  const bounds = new Int32Array(messages.length * 2);
  let at = 0;
  messages.forEach((m, i) => {
    if (m.value === null) {
      bounds[2 * i] = -1;
      bounds[2 * i + 1] = -1;
      return;
    }
    bounds[2 * i] = at;
    at += m.value.copy(into, at);
    bounds[2 * i + 1] = at;
  });
  return { topic, partition, offsets: messages.map((m) => m.offset), values, bounds, now, maxEventBytes };
}

/**
 * What the worker does with a slice: exactly the in-thread stager's per
 * message work (classify, price, one TSV line), the lines written into one
 * buffer of their exact size.
 */
export function stageSlice(job: SliceJob, pricer: Pricer, priceSerial: number): SliceResult {
  const n = job.offsets.length;
  const ranges = new Int32Array(n * 2).fill(-1);
  const timeMs = new Float64Array(n);
  const orgIds: string[] = new Array(n).fill("");
  const eventIds: string[] = new Array(n).fill("");
  const drops: (Drop | null)[] = new Array(n).fill(null);
  let out = Buffer.allocUnsafeSlow(Math.max(64 * 1024, job.values.byteLength * 2));
  let used = 0;
  for (let i = 0; i < n; i++) {
    const s = job.bounds[2 * i]!;
    const value = s < 0 ? null : Buffer.from(job.values, s, job.bounds[2 * i + 1]! - s);
    const c = classifyMessage(value, { now: job.now, maxBytes: job.maxEventBytes });
    if (!c.ok) {
      drops[i] = c.drop;
      continue;
    }
    const e = c.event;
    const line = usageTsvLine(e, pricer.price(e), kafkaSource(job.topic, job.partition, job.offsets[i]!));
    if (used + line.length * 3 > out.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(out.length * 2, used + line.length * 3));
      out.copy(bigger, 0, 0, used);
      out = bigger;
    }
    ranges[2 * i] = used;
    used += out.write(line, used, "utf8");
    ranges[2 * i + 1] = used;
    timeMs[i] = e.event_time_ms;
    orgIds[i] = e.org_id;
    eventIds[i] = e.event_id;
  }
  const lines = new ArrayBuffer(used);
  out.copy(Buffer.from(lines), 0, 0, used);
  return { priceSerial, lines, ranges, timeMs, orgIds, eventIds, drops };
}
