import { createOutageLog, settlesWithin } from "@tokenmeter/core";
import { type Job, Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { attemptDelivery, type DeliveryDeps, type DeliveryJob } from "./deliver.js";
import type { Dispatcher } from "./dispatch.js";
import { retryDelayMs } from "./notify.js";

/** One scheduler id per deployment: every replica upserts the same one, so there is one schedule. */
export const EVALUATE_SCHEDULER_ID = "alerts-evaluate-schedule";
const KEEP = { age: 7 * 86_400 };
/** How long close() waits for the workers and queues to let go of Redis. */
const CLOSE_BOUND_MS = 5_000;

/** BullMQ job ids may not contain ":"; delivery ids are "<event>:<channel>". */
const jobId = (delivery_id: string) => delivery_id.replaceAll(":", "_");

export interface BullAlertOptions {
  connection: Redis;
  queueName: string;
  intervalMs: number;
  deps: DeliveryDeps;
  logger: Logger;
  /** Runs one evaluation of the given tick (epoch ms, a multiple of intervalMs). */
  evaluate: (tick: number) => Promise<unknown>;
}

/**
 * Alerts on BullMQ: a repeatable evaluation job (global concurrency 1, so two
 * replicas never evaluate at once) and a delivery queue whose job id is the
 * delivery id, so the same notification is queued once whichever replica (or
 * restart) queues it; BullMQ retries failed attempts on the webhook schedule.
 */
export async function startBullAlerts(opts: BullAlertOptions): Promise<Dispatcher & { evalQueue: Queue }> {
  const log = opts.logger.child({ op: "alert_jobs", queue: opts.queueName });
  const { maxAttempts, retryBaseMs } = opts.deps.policy;
  // Connection errors of the queues and workers (and their blocking duplicates) are one outage of their Redis:
  // one warn line when it starts, one info line when the connection is ready again, no stacks.
  const outage = createOutageLog(log, "redis (alert queues)");
  outage.watch(opts.connection);
  const evalQueue = new Queue(`${opts.queueName}-eval`, { connection: opts.connection });
  const deliverQueue = new Queue(`${opts.queueName}-deliver`, { connection: opts.connection });
  for (const q of [evalQueue, deliverQueue]) q.on("error", (err) => outage.failed(err));
  await evalQueue.setGlobalConcurrency(1);
  await evalQueue.upsertJobScheduler(
    EVALUATE_SCHEDULER_ID,
    { every: opts.intervalMs },
    { name: "evaluate", opts: { removeOnComplete: 100, removeOnFail: 500 } },
  );
  const evalWorker = new Worker(
    evalQueue.name,
    async (job: Job) => {
      // The scheduled instant, not when a worker got to it: a late run evaluates the same minute.
      const scheduled = job.timestamp + (job.delay ?? 0);
      return await opts.evaluate(Math.floor(scheduled / opts.intervalMs) * opts.intervalMs);
    },
    { connection: opts.connection, concurrency: 1 },
  );
  const deliverWorker = new Worker(
    deliverQueue.name,
    async (job: Job<DeliveryJob>) => {
      const outcome = await attemptDelivery(opts.deps, { ...job.data, attempt: job.data.attempt + job.attemptsMade });
      // Throwing hands the retry to BullMQ (custom backoff below); refused/gave_up/delivered end here.
      if (outcome.status === "failed") throw new Error(outcome.error);
      return outcome.status;
    },
    {
      connection: opts.connection,
      concurrency: 8,
      // attemptsMade counts this job's tries; a resumed delivery's job starts at its data.attempt.
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, _err?: Error, job?: { data?: { attempt?: number } }) =>
          retryDelayMs((job?.data?.attempt ?? 1) + attemptsMade - 1, retryBaseMs),
      },
    },
  );
  for (const w of [evalWorker, deliverWorker]) w.on("error", (err) => outage.failed(err));
  await Promise.all([evalWorker.waitUntilReady(), deliverWorker.waitUntilReady()]);
  return {
    evalQueue,
    pending: () => false,
    async enqueue(job, delayMs = 0) {
      await deliverQueue.add("deliver", job, {
        jobId: jobId(job.delivery_id),
        delay: delayMs,
        attempts: maxAttempts - job.attempt + 1,
        backoff: { type: "custom" },
        removeOnComplete: KEEP,
        removeOnFail: KEEP,
      });
    },
    async close() {
      // Bounded: after a Redis outage a worker's blocking connection can still be reconnecting, and
      // close() waits on it without end (seen: the all-in-one's SIGTERM never finishing). Past the bound
      // the process exits anyway; an interrupted delivery is retried from the outbox (Idempotency-Key).
      const closed = Promise.all([evalWorker.close(), deliverWorker.close()]).then(() =>
        Promise.all([evalQueue.close(), deliverQueue.close()]),
      );
      if (!(await settlesWithin(closed, CLOSE_BOUND_MS)))
        log.info({ bound_ms: CLOSE_BOUND_MS }, "alert queues did not close in time; leaving them to the process exit");
    },
  };
}
