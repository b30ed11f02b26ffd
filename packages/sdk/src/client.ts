import { randomUUID } from "node:crypto";
import { type FieldError, type UsageEventInput, validateEvent } from "@tokenmeter/core";
import { PermanentSendError, type Rejected, type Transport } from "./transport.js";

export interface UsageClientOptions {
  transport: Transport;
  /** Events per send. Default 500 (HTTP allows 1,000 a request). */
  maxBatch?: number;
  /** Longest an event waits for its batch, ms. Default 1,000. */
  maxDelayMs?: number;
  /** Events held at most; `track` refuses beyond (memory bound while the backend is down). Default 100,000. */
  maxQueue?: number;
  /** Send attempts per batch before it is reported lost via onError. Default 10. */
  maxAttempts?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Events refused for good by the server (or that failed every attempt). */
  onError?: (err: Error, events: UsageEventInput[], rejected?: Rejected[]) => void;
  /** Flush what is queued when the process is about to exit (beforeExit). Default true. */
  flushOnExit?: boolean;
  now?: () => number;
}

/** The event a runtime reports; event_id and event_time are filled in when left out. */
export type TrackedEvent = Omit<UsageEventInput, "event_id" | "event_time"> & { event_id?: string; event_time?: string };

/** `track` refused the event: these fields are wrong (same paths and messages as the server's). */
export class InvalidEventError extends Error {
  override readonly name = "InvalidEventError";
  constructor(readonly errors: FieldError[]) {
    super(`invalid usage event: ${errors.map((e) => `${e.path} ${e.message}`).join("; ")}`);
  }
}

export interface UsageClient {
  /** Validates and queues one event; returns its event_id (the idempotency key). Throws InvalidEventError. */
  track(event: TrackedEvent): string;
  /** Sends everything queued now; resolves when it is durable (or reported via onError). */
  flush(): Promise<void>;
  /** Flushes, then refuses new events. */
  close(): Promise<void>;
  /** Events queued or in flight. */
  pending(): number;
}

/**
 * Usage-event client for agent runtimes: validates with the shared schema v1,
 * batches, and retries a failed batch with the SAME events (same event_id),
 * so a retry after a lost acknowledgement is counted once by Tokenmeter.
 */
export function createUsageClient(opts: UsageClientOptions): UsageClient {
  const maxBatch = opts.maxBatch ?? 500;
  const maxDelayMs = opts.maxDelayMs ?? 1_000;
  const maxQueue = opts.maxQueue ?? 100_000;
  const maxAttempts = opts.maxAttempts ?? 10;
  const retryMinMs = opts.retryMinMs ?? 100;
  const retryMaxMs = opts.retryMaxMs ?? 10_000;
  const now = opts.now ?? Date.now;
  const onError = opts.onError ?? ((err) => process.emitWarning(`tokenmeter: ${err.message}`));
  let queue: UsageEventInput[] = [];
  let inFlight = 0;
  let timer: NodeJS.Timeout | null = null;
  let sending: Promise<void> = Promise.resolve();
  let closed = false;

  function schedule(): void {
    if (queue.length >= maxBatch) void drain();
    else if (!timer && queue.length > 0) {
      timer = setTimeout(() => void drain(), maxDelayMs);
      timer.unref();
    }
  }

  /** Sends batches one after another, so event order per process is kept. */
  function drain(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    sending = sending.then(async () => {
      while (queue.length > 0) {
        const batch = queue.slice(0, maxBatch);
        queue = queue.slice(batch.length);
        inFlight += batch.length;
        try {
          await sendWithRetry(batch);
        } finally {
          inFlight -= batch.length;
        }
      }
    });
    return sending;
  }

  async function sendWithRetry(batch: UsageEventInput[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const rejected = await opts.transport.send(batch);
        if (rejected.length > 0)
          onError(
            new Error(`${rejected.length} events refused by the server`),
            rejected.map((r) => r.event),
            rejected,
          );
        return;
      } catch (err) {
        if (err instanceof PermanentSendError || attempt >= maxAttempts) {
          onError(err as Error, batch);
          return;
        }
        const ceiling = Math.min(retryMaxMs, retryMinMs * 2 ** (attempt - 1));
        await new Promise((r) => setTimeout(r, ceiling / 2 + (Math.random() * ceiling) / 2));
      }
    }
  }

  const onBeforeExit = () => {
    if (queue.length > 0) void drain();
  };
  if (opts.flushOnExit !== false) process.on("beforeExit", onBeforeExit);

  return {
    track(event) {
      if (closed) throw new Error("usage client is closed");
      if (queue.length >= maxQueue) throw new Error(`usage client queue is full (${maxQueue} events); the backend is not keeping up`);
      const at = now();
      const wire = { ...event, event_id: event.event_id ?? randomUUID(), event_time: event.event_time ?? new Date(at).toISOString() };
      const v = validateEvent(wire, opts.transport.requiresOrgId ? { now: at } : { now: at, org_id: wire.org_id ?? "(credential)" });
      if (!v.ok) throw new InvalidEventError(v.errors);
      queue.push(wire as UsageEventInput);
      schedule();
      return wire.event_id;
    },
    flush: () => drain(),
    async close() {
      closed = true;
      await drain();
      process.off("beforeExit", onBeforeExit);
    },
    pending: () => queue.length + inFlight,
  };
}
