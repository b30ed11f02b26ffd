import { randomBytes } from "node:crypto";
import type { UsageEventInput } from "@tokenmeter/core";

/**
 * Builds JSON-array request bodies of realistic events with unique event_ids,
 * cheaply: each template is serialized once around an id placeholder, so a
 * 1,000-event body costs string concatenation, not 1,000 JSON.stringify calls
 * (the load generator shares the 2 cores with the server under test).
 */
export class BodyFactory {
  private readonly parts: [string, string][];
  private readonly prefix = randomBytes(4).toString("hex");
  private counter = 0;
  private next = 0;

  /**
   * `keepOrg`: Kafka messages carry their org_id; on HTTP the org comes from
   * the credential and an event naming another org is rejected, so it is dropped.
   */
  constructor(templates: readonly UsageEventInput[], opts: { keepOrg?: boolean } = {}) {
    this.parts = templates.map(({ org_id, ...t }) => {
      const [a, b] = JSON.stringify({ ...t, ...(opts.keepOrg ? { org_id } : {}), event_id: "@ID@" }).split("@ID@");
      return [a!, b!];
    });
  }

  /** A fresh, valid v4-shaped UUID per call: run prefix + counter. */
  id(): string {
    const h = (this.counter++).toString(16).padStart(22, "0");
    return `${this.prefix}-${h.slice(0, 4)}-4${h.slice(4, 7)}-8${h.slice(7, 10)}-${h.slice(10, 22)}`;
  }

  /** `events` serialized events (Kafka message values). */
  items(events: number): string[] {
    const items: string[] = new Array(events);
    for (let i = 0; i < events; i++) {
      const [a, b] = this.parts[this.next++ % this.parts.length]!;
      items[i] = a + this.id() + b;
    }
    return items;
  }

  /** A JSON-array request body of `events` events. */
  body(events: number): string {
    return `[${this.items(events).join(",")}]`;
  }
}

export interface RequestOutcome {
  ok: boolean;
  status: number;
  ms: number;
  accepted: number;
  error?: string;
}

/** POSTs one body to /v1/events and reads the verdict. */
export async function postEvents(url: string, token: string, body: string): Promise<RequestOutcome> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${url}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body,
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    if (!res.ok) return { ok: false, status: res.status, ms, accepted: 0, error: text.slice(0, 200) };
    const parsed = JSON.parse(text) as { accepted: number; rejected: unknown[] };
    const rejected = parsed.rejected.length;
    return {
      ok: rejected === 0,
      status: res.status,
      ms,
      accepted: parsed.accepted,
      ...(rejected ? { error: `${rejected} rejected` } : {}),
    };
  } catch (err) {
    return { ok: false, status: 0, ms: performance.now() - t0, accepted: 0, error: (err as Error).message };
  }
}

export interface LoadResult {
  requests: number;
  accepted: number;
  /** Requests the server failed or answered with an error (or the transport failed). */
  errors: number;
  /** Open loop only: ticks not sent because `maxInFlight` requests were outstanding (the server fell behind). */
  skipped: number;
  first_error?: string;
  latencies_ms: number[];
  elapsed_ms: number;
}

/**
 * Closed loop: `clients` concurrent callers, each sending its next request as
 * soon as the previous one is answered, until `durationMs` or `maxRequests`.
 */
export async function closedLoop(opts: {
  url: string;
  token: string;
  bodies: BodyFactory;
  clients: number;
  eventsPerRequest: number;
  durationMs: number;
  maxRequests: number;
}): Promise<LoadResult> {
  const r: LoadResult = { requests: 0, accepted: 0, errors: 0, skipped: 0, latencies_ms: [], elapsed_ms: 0 };
  const started = performance.now();
  const deadline = started + opts.durationMs;
  const client = async () => {
    while (performance.now() < deadline && r.requests < opts.maxRequests) {
      r.requests++;
      record(r, await postEvents(opts.url, opts.token, opts.bodies.body(opts.eventsPerRequest)));
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, client));
  r.elapsed_ms = performance.now() - started;
  return r;
}

/**
 * Open loop at a steady rate: one request of `eventsPerRequest` every
 * 1000 × eventsPerRequest / eventsPerSecond ms, whatever the server's pace,
 * with at most `maxInFlight` outstanding (beyond that a tick is skipped and counted).
 */
export async function steadyLoad(opts: {
  /** Sends one request of `eventsPerRequest` events (HTTP POST, or a Kafka produce). */
  send: () => Promise<RequestOutcome>;
  eventsPerSecond: number;
  eventsPerRequest: number;
  durationMs: number;
  maxInFlight: number;
}): Promise<LoadResult> {
  const r: LoadResult = { requests: 0, accepted: 0, errors: 0, skipped: 0, latencies_ms: [], elapsed_ms: 0 };
  const intervalMs = (1000 * opts.eventsPerRequest) / opts.eventsPerSecond;
  const started = performance.now();
  const inflight = new Set<Promise<void>>();
  for (let i = 0; ; i++) {
    const due = started + i * intervalMs;
    if (due - started >= opts.durationMs) break;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    if (inflight.size >= opts.maxInFlight) {
      r.skipped++;
      continue;
    }
    r.requests++;
    const p: Promise<void> = opts.send().then((o) => {
      record(r, o);
      inflight.delete(p);
    });
    inflight.add(p);
  }
  await Promise.all(inflight);
  r.elapsed_ms = performance.now() - started;
  return r;
}

function record(r: LoadResult, o: RequestOutcome): void {
  r.latencies_ms.push(o.ms);
  r.accepted += o.accepted;
  if (!o.ok) {
    r.errors++;
    r.first_error ??= `${o.status} ${o.error ?? ""}`;
  }
}
