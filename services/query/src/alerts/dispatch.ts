import type { Logger } from "pino";
import { type AttemptOutcome, attemptDelivery, type DeliveryDeps, type DeliveryJob } from "./deliver.js";

/** Where delivery attempts are queued: in process (embedded) or on BullMQ (worker replicas). */
export interface Dispatcher {
  /** Queues one attempt; a delivery already queued or pending a retry is not queued twice. */
  enqueue(job: DeliveryJob, delayMs?: number): Promise<void>;
  /** Deliveries this process has taken on (queued, running, retrying or just done); the sweep leaves them alone. */
  pending(delivery_id: string): boolean;
  close(): Promise<void>;
}

/**
 * The embedded default: a timer per pending attempt, retries re-armed from
 * the outcome's delay. Nothing here runs on a request's path; every attempt is
 * bounded by the delivery timeout.
 */
export class InProcessDispatcher implements Dispatcher {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<unknown>>();
  /** Every delivery this process took on (bounded): the sweep must not queue one whose attempt just finished. */
  private readonly handled = new Set<string>();
  private closed = false;
  /** Attempts running now, and those waiting for a slot: a burst of notifications cannot open thousands of sockets. */
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly deps: DeliveryDeps,
    private readonly logger: Logger,
    private readonly concurrency = 16,
  ) {}

  pending(delivery_id: string): boolean {
    return this.handled.has(delivery_id);
  }

  async enqueue(job: DeliveryJob, delayMs = 0): Promise<void> {
    if (this.closed || this.timers.has(job.delivery_id)) return;
    if (this.handled.size >= 100_000) this.handled.clear();
    this.handled.add(job.delivery_id);
    const timer = setTimeout(() => {
      const run = this.run(job).finally(() => this.running.delete(run));
      this.running.add(run);
    }, delayMs);
    timer.unref();
    this.timers.set(job.delivery_id, timer);
  }

  private async run(job: DeliveryJob): Promise<void> {
    let outcome: AttemptOutcome | undefined;
    if (this.active >= this.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      outcome = this.closed ? undefined : await attemptDelivery(this.deps, job);
    } catch (err) {
      this.logger.error({ err, op: "alert_delivery", delivery_id: job.delivery_id }, "delivery attempt could not run");
    } finally {
      this.active--;
      this.waiting.shift()?.();
      this.timers.delete(job.delivery_id);
    }
    if (outcome?.retry_in_ms != null) await this.enqueue({ ...job, attempt: job.attempt + 1 }, outcome.retry_in_ms);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const w of this.waiting.splice(0)) w();
    await Promise.allSettled([...this.running]);
  }
}
