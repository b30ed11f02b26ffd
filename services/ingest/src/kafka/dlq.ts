import { isUtf8 } from "node:buffer";
import { randomUUID } from "node:crypto";
import { type FieldError, type UsageEvent, validateEvent } from "@tokenmeter/core";
import type { IHeaders, Kafka, Message, Producer } from "kafkajs";

/**
 * Why a message went to the DLQ. `undecodable`: not JSON; `invalid`: schema
 * v1 says no; `refused`: valid, but the engine refused its row (a data error,
 * defence in depth behind validation: the reason is the engine's message).
 */
export type DropKind = "empty" | "too_large" | "undecodable" | "invalid" | "refused";

/** A poison message is a status, not an exception: the consumer records it and moves on. */
export interface Drop {
  kind: DropKind;
  /** Field paths and reasons (`(message)` when the whole message is at fault). */
  errors: FieldError[];
}

export type Classified = { ok: true; event: UsageEvent } | { ok: false; drop: Drop };

/** Decodes and validates one Kafka message value against event schema v1 (org_id required on Kafka). */
export function classifyMessage(value: Buffer | null, opts: { now: number; maxBytes: number }): Classified {
  if (value === null || value.length === 0) return dropped("empty", "(message)", "empty message");
  if (value.length > opts.maxBytes) {
    return dropped("too_large", "(message)", `message of ${value.length} bytes is over the ${opts.maxBytes}-byte limit`);
  }
  // Decoding would turn bytes that are not UTF-8 into U+FFFD: text the producer never sent (HTTP refuses them too).
  if (!isUtf8(value)) return dropped("undecodable", "(message)", "not valid UTF-8");
  let raw: unknown;
  try {
    raw = JSON.parse(value.toString("utf8"));
  } catch (err) {
    return dropped("undecodable", "(message)", `not JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return dropped("invalid", "(event)", "must be a JSON object (one event per message)");
  }
  const v = validateEvent(raw, { now: opts.now });
  return v.ok ? { ok: true, event: v.event } : { ok: false, drop: { kind: "invalid", errors: v.errors } };
}

function dropped(kind: DropKind, path: string, message: string): Classified {
  return { ok: false, drop: { kind, errors: [{ path, message }] } };
}

/** Headers a DLQ message carries next to the original bytes (value) and key. */
export const DLQ_HEADERS = {
  kind: "tm-dlq-kind",
  errors: "tm-dlq-errors",
  source: "tm-dlq-source",
  failedAt: "tm-dlq-failed-at",
} as const;

/** Where a message came from: the coordinates re-drive and de-duplication use. */
export interface SourceRef {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * The DLQ message for a poison message: original value and key untouched,
 * the reason and source coordinates in headers. Keyed by the source
 * coordinates when the original had no key, so repeats (a range re-processed
 * after a crash) land in one DLQ partition and `dlq inspect` can fold them.
 */
export function toDlqMessage(src: SourceRef, original: { key: Buffer | null; value: Buffer | null }, drop: Drop, now: number): Message {
  return {
    key: original.key ?? `${src.topic}:${src.partition}:${src.offset}`,
    value: original.value ?? Buffer.alloc(0),
    headers: {
      [DLQ_HEADERS.kind]: drop.kind,
      [DLQ_HEADERS.errors]: JSON.stringify(drop.errors),
      [DLQ_HEADERS.source]: `${src.topic}:${src.partition}:${src.offset}`,
      [DLQ_HEADERS.failedAt]: new Date(now).toISOString(),
    },
  };
}

/** One DLQ message as read back. */
export interface DlqEntry {
  /** Position in the DLQ topic. */
  partition: number;
  offset: string;
  source: SourceRef | null;
  kind: string;
  errors: FieldError[];
  failed_at: string;
  key: Buffer | null;
  value: Buffer;
}

/** Reads a DLQ message's headers back into a {@link DlqEntry}. */
export function parseDlqMessage(
  partition: number,
  m: { offset: string; key: Buffer | null; value: Buffer | null; headers?: IHeaders },
): DlqEntry {
  const h = (name: string) => {
    const v = m.headers?.[name];
    return v === undefined ? "" : Array.isArray(v) ? String(v[0] ?? "") : String(v);
  };
  let errors: FieldError[] = [];
  try {
    errors = JSON.parse(h(DLQ_HEADERS.errors) || "[]") as FieldError[];
  } catch {
    errors = [{ path: "(dlq)", message: "unreadable reason header" }];
  }
  return {
    partition,
    offset: m.offset,
    source: parseSource(h(DLQ_HEADERS.source)),
    kind: h(DLQ_HEADERS.kind),
    errors,
    failed_at: h(DLQ_HEADERS.failedAt),
    key: m.key,
    value: m.value ?? Buffer.alloc(0),
  };
}

function parseSource(s: string): SourceRef | null {
  const m = /^(.*):(\d+):(\d+)$/.exec(s);
  return m ? { topic: m[1]!, partition: Number(m[2]), offset: m[3]! } : null;
}

/** Produces DLQ messages and resolves once the broker acked them all (acks=all). */
export async function publishToDlq(producer: Producer, topic: string, messages: Message[]): Promise<void> {
  if (messages.length === 0) return;
  await producer.send({ topic, acks: -1, messages });
}

export interface ReadDlqOptions {
  /** At most this many entries (oldest first). */
  limit?: number;
  /** Give up reading after this long. Default 15 s. */
  timeoutMs?: number;
}

/**
 * Reads the DLQ topic from the beginning up to its current end. Uses a
 * throwaway consumer group that never commits, so inspecting changes nothing.
 */
export async function readDlq(kafka: Kafka, topic: string, opts: ReadDlqOptions = {}): Promise<DlqEntry[]> {
  const limit = opts.limit ?? 1_000;
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
  const entries: DlqEntry[] = [];
  if (ends.size === 0) return entries;
  const consumer = kafka.consumer({ groupId: `tokenmeter-dlq-inspect-${randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, opts.timeoutMs ?? 15_000);
      void consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const end = ends.get(batch.partition);
          for (const m of batch.messages) {
            if (end === undefined || BigInt(m.offset) >= end || entries.length >= limit) break;
            entries.push(parseDlqMessage(batch.partition, m));
          }
          const last = BigInt(batch.lastOffset());
          if (end !== undefined && last + 1n >= end) ends.delete(batch.partition);
          if (ends.size === 0 || entries.length >= limit) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await done;
  } finally {
    await consumer.disconnect();
  }
  return entries.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

/**
 * Sends DLQ entries back to their source topic (or `topic`), with the
 * original key and either the original bytes or a corrected `value`. The
 * consumer then handles them like any message: valid ones are stored once
 * (event_id de-duplication), still-invalid ones return to the DLQ.
 */
export async function redrive(
  producer: Producer,
  entries: DlqEntry[],
  opts: { topic?: string; value?: (e: DlqEntry) => Buffer } = {},
): Promise<number> {
  const byTopic = new Map<string, Message[]>();
  for (const e of entries) {
    const topic = opts.topic ?? e.source?.topic;
    if (!topic) throw new Error(`DLQ entry ${e.partition}:${e.offset} has no source topic; pass one`);
    const list = byTopic.get(topic) ?? [];
    list.push({
      key: e.key,
      value: opts.value ? opts.value(e) : e.value,
      headers: { "tm-redriven-from": `dlq:${e.partition}:${e.offset}` },
    });
    byTopic.set(topic, list);
  }
  for (const [topic, messages] of byTopic) await producer.send({ topic, acks: -1, messages });
  return entries.length;
}
