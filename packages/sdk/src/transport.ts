import type { FieldError, UsageEventInput } from "@tokenmeter/core";

/** An event the receiving side refused for good (fix the event; retrying cannot help). */
export interface Rejected {
  event: UsageEventInput;
  errors: FieldError[];
}

/**
 * Where the client sends batches. `send` resolves once the events are durable
 * on the other side, returns those refused for good, and throws for anything
 * worth retrying (network, 5xx, 429, broker unavailable).
 */
export interface Transport {
  /** Kafka has no credential to take org_id from, so events must carry it. */
  readonly requiresOrgId: boolean;
  send(events: UsageEventInput[]): Promise<Rejected[]>;
}

/** The part of a kafkajs Producer the SDK uses (kafkajs stays the caller's dependency). */
export interface ProducerLike {
  send(record: { topic: string; acks?: number; messages: Array<{ key: string; value: string }> }): Promise<unknown>;
}

/**
 * Produces to the usage topic (default llm.usage.v1), keyed by event_id so a
 * retried event lands in the partition of its first copy, acks=all. Create
 * the producer with `idempotent: true, maxInFlightRequests: 1`.
 */
export class KafkaTransport implements Transport {
  readonly requiresOrgId = true;
  constructor(
    private readonly producer: ProducerLike,
    private readonly topic = "llm.usage.v1",
  ) {}

  async send(events: UsageEventInput[]): Promise<Rejected[]> {
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: events.map((e) => ({ key: e.event_id, value: JSON.stringify(e) })),
    });
    return [];
  }
}

/** HTTP answered something a retry will not change. */
export class PermanentSendError extends Error {
  override readonly name = "PermanentSendError";
}

/** POST /v1/events with a bearer token (JWT or API key); org_id comes from the credential. */
export class HttpTransport implements Transport {
  readonly requiresOrgId = false;
  /** `timeoutMs`: longest one POST may take before it counts as failed and is retried (default 10 000). */
  constructor(private readonly opts: { url: string; token: string; fetch?: typeof fetch; timeoutMs?: number }) {}

  async send(events: UsageEventInput[]): Promise<Rejected[]> {
    const res = await (this.opts.fetch ?? fetch)(new URL("/v1/events", this.opts.url), {
      method: "POST",
      headers: { authorization: `Bearer ${this.opts.token}`, "content-type": "application/json" },
      body: JSON.stringify(events),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
    });
    const body = (await res.json().catch(() => ({}))) as {
      rejected?: Array<{ index: number; errors: FieldError[] }>;
      error?: { details?: { rejected?: Array<{ index: number; errors: FieldError[] }> }; message?: string };
    };
    if (res.status === 429 || res.status >= 500) throw new Error(`HTTP ${res.status}: ${body.error?.message ?? "retry later"}`);
    const rejected = body.rejected ?? body.error?.details?.rejected;
    if (res.ok || rejected) return (rejected ?? []).map((r) => ({ event: events[r.index]!, errors: r.errors }));
    throw new PermanentSendError(`HTTP ${res.status}: ${body.error?.message ?? "request refused"}`);
  }
}
