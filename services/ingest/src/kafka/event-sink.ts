import type { UsageEvent, UsageEventInput } from "@tokenmeter/core";
import type { Message, Producer } from "kafkajs";
import type { EventSink, WriteResult } from "../sink.js";

/**
 * The wire form (event schema v1) of a validated event: what the consumer
 * decodes again. Defaults are left out, so the message is what a producer
 * would have sent.
 */
export function toWireEvent(e: UsageEvent): UsageEventInput {
  const w: UsageEventInput = {
    event_id: e.event_id,
    event_time: new Date(e.event_time_ms).toISOString(),
    org_id: e.org_id,
    provider: e.provider,
    model: e.model,
    operation: e.operation,
    input_tokens: e.input_tokens,
    output_tokens: e.output_tokens,
    status_code: e.status_code,
  };
  for (const k of ["project_id", "user_id", "agent_id", "session_id", "turn_id", "message_id", "error_code"] as const) {
    if (e[k] !== "") w[k] = e[k];
  }
  for (const k of ["cached_input_tokens", "cache_write_tokens", "reasoning_tokens"] as const) if (e[k] !== 0) w[k] = e[k];
  for (const k of ["call_sequence", "cost_usd", "duration_ms", "ttfb_ms", "proxy_overhead_ms"] as const) {
    const v = e[k];
    if (v !== null) w[k] = v;
  }
  if (e.streaming) w.streaming = true;
  if (Object.keys(e.tags).length > 0) w.tags = e.tags;
  return w;
}

/** One Kafka message per event, keyed by event_id: a re-sent event lands in the same partition. */
export function toEventMessage(e: UsageEvent): Message {
  return { key: e.event_id, value: JSON.stringify(toWireEvent(e)) };
}

/**
 * HTTP ingest in distributed mode: events go to the usage topic and the call
 * resolves only once the broker acked all of them (acks=all, idempotent
 * producer), so a 200 means durable (no acknowledged event is lost: docs/exactly-once.md). Duplicates are
 * dropped later by the consumer, so `duplicates` is always 0 here.
 */
export class KafkaEventSink implements EventSink {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
  ) {}

  async write(events: UsageEvent[]): Promise<WriteResult> {
    if (events.length === 0) return { accepted: 0, duplicates: 0 };
    await this.producer.send({ topic: this.topic, acks: -1, messages: events.map(toEventMessage) });
    return { accepted: events.length, duplicates: 0 };
  }
}
