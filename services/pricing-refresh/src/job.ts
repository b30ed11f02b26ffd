import { createOutageLog, settlesWithin } from "@tokenmeter/core";
import { type Job, Queue, QueueEvents, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { RefreshResult } from "./refresh.js";

/** Job names on the pricing queue. */
export const REFRESH_JOB = "pricing-refresh";
export const REPRICE_JOB = "reprice";
/** One scheduler id for the whole deployment: every worker upserts the same one, so it exists once. */
export const REFRESH_SCHEDULER_ID = "pricing-refresh-schedule";

export interface RepriceJobData {
  /** ISO-8601 instants, `to` exclusive. */
  from: string;
  to: string;
  model?: string;
}

export interface PricingQueueOptions {
  /** BullMQ needs `maxRetriesPerRequest: null` on it (blocking commands must not time out). */
  connection: Redis;
  queueName: string;
}

export interface PricingWorkerOptions extends PricingQueueOptions {
  /** Cron pattern of the refresh (UTC). */
  cron: string;
  /** Tries per refresh job, the first included. */
  attempts: number;
  /** First retry delay; doubles each retry. */
  backoffMs: number;
  logger: Logger;
  refresh: () => Promise<RefreshResult>;
  reprice?: (data: RepriceJobData, job: Job) => Promise<unknown>;
}

export interface PricingWorker {
  queue: Queue;
  worker: Worker;
  /** Adds a refresh job to run now (ops, tests), with the same retry policy as the scheduled ones. */
  refreshNow(): Promise<Job>;
  /** Queues a re-pricing run; a worker with `reprice` set runs it. */
  enqueueReprice(data: RepriceJobData): Promise<Job>;
  close(): Promise<void>;
}

/** Re-pricing is idempotent, so retrying a failed run whole is safe. */
const REPRICE_JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: "exponential" as const, delay: 60_000 },
  removeOnComplete: 100,
  removeOnFail: 100,
};

/** Queues a re-pricing run for the pricing workers (`tokenmeter reprice --enqueue`). */
export async function enqueueReprice(opts: PricingQueueOptions, data: RepriceJobData): Promise<string> {
  const queue = new Queue(opts.queueName, { connection: opts.connection });
  // The add below fails on its own if Redis is down; the error events in between need no line each.
  queue.on("error", () => {});
  try {
    const job = await queue.add(REPRICE_JOB, data, REPRICE_JOB_OPTIONS);
    return job.id ?? "";
  } finally {
    await queue.close();
  }
}

/**
 * Queues one price refresh for the pricing workers, outside the schedule
 * (ops, tests); resolves with the job's result once a worker ran it, bounded by `timeoutMs`.
 */
export async function enqueueRefresh(opts: PricingQueueOptions & { timeoutMs?: number }): Promise<RefreshResult> {
  const queue = new Queue(opts.queueName, { connection: opts.connection });
  const events = new QueueEvents(opts.queueName, { connection: opts.connection.duplicate() });
  try {
    await events.waitUntilReady();
    const job = await queue.add(REFRESH_JOB, {}, { attempts: 1, removeOnComplete: 100, removeOnFail: 500 });
    return (await job.waitUntilFinished(events, opts.timeoutMs ?? 60_000)) as RefreshResult;
  } finally {
    await events.close();
    await queue.close();
  }
}

function jobOptions(o: { attempts: number; backoffMs: number }) {
  return {
    attempts: o.attempts,
    backoff: { type: "exponential" as const, delay: o.backoffMs },
    // Keep some history for `bullmq` dashboards without growing Redis forever.
    removeOnComplete: 100,
    removeOnFail: 500,
  };
}

/**
 * The distributed pricing job: registers the repeatable refresh (idempotent
 * upsert, so N replicas still mean one schedule) and works the queue. Failures
 * are retried by BullMQ with exponential backoff; each failed attempt is logged,
 * and the refresh itself counts outcomes in metrics.
 */
export async function startPricingWorker(opts: PricingWorkerOptions): Promise<PricingWorker> {
  const log = opts.logger.child({ op: "pricing_worker", queue: opts.queueName });
  // Connection errors of the queue and the worker (and its blocking duplicate) are one outage of their Redis:
  // one warn line when it starts, one info line when the shared connection is ready again, no stacks.
  const outage = createOutageLog(log, "redis (pricing queue)");
  outage.watch(opts.connection);
  const queue = new Queue(opts.queueName, { connection: opts.connection });
  queue.on("error", (err) => outage.failed(err));
  await queue.upsertJobScheduler(REFRESH_SCHEDULER_ID, { pattern: opts.cron, tz: "UTC" }, { name: REFRESH_JOB, opts: jobOptions(opts) });
  const worker = new Worker(
    opts.queueName,
    async (job: Job) => {
      if (job.name === REFRESH_JOB) return await opts.refresh();
      if (job.name === REPRICE_JOB && opts.reprice) return await opts.reprice(job.data as RepriceJobData, job);
      throw new Error(`no handler for job ${job.name}`);
    },
    { connection: opts.connection, concurrency: 1 },
  );
  worker.on("failed", (job, err) => {
    log.error(
      { err, job: job?.name, job_id: job?.id, attempts_made: job?.attemptsMade, attempts: job?.opts.attempts },
      "pricing job attempt failed",
    );
  });
  worker.on("error", (err) => outage.failed(err));
  await worker.waitUntilReady();
  return {
    queue,
    worker,
    refreshNow: () => queue.add(REFRESH_JOB, {}, jobOptions(opts)),
    enqueueReprice: (data) =>
      queue.add(REPRICE_JOB, data, { attempts: 3, backoff: { type: "exponential", delay: 60_000 }, removeOnComplete: 100 }),
    async close() {
      // Bounded like the alert queues' (alerts/bull.ts): after a Redis outage the worker's blocking
      // connection can keep close() waiting without end, and the process must still stop. Past the
      // bound a running refresh is simply retried by the next schedule; a re-price job by BullMQ.
      if (
        !(await settlesWithin(
          worker.close().then(() => queue.close()),
          CLOSE_BOUND_MS,
        ))
      )
        log.info({ bound_ms: CLOSE_BOUND_MS }, "pricing queue did not close in time; leaving it to the process exit");
    },
  };
}

/** How long close() waits for the worker and the queue to let go of Redis. */
const CLOSE_BOUND_MS = 5_000;
