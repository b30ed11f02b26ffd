import type { Store } from "@tokenmeter/clickhouse";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { budgetRepo } from "../budgets/repo.js";
import { startBullAlerts } from "./bull.js";
import { type DeliveryDeps, type DeliveryPolicy, deliveryId } from "./deliver.js";
import { type Dispatcher, InProcessDispatcher } from "./dispatch.js";
import { type EvaluationResult, evaluateRules } from "./evaluate.js";
import type { AlertRule } from "./model.js";
import type { Notification } from "./notify.js";
import { DeliveryRepo, EventRepo, ruleRepo } from "./repo.js";

export interface AlertJobsOptions {
  store: Store;
  logger: Logger;
  policy: DeliveryPolicy;
  /** How often rules are evaluated (default 60 s). */
  intervalMs: number;
  /** BullMQ queue name prefix (distributed mode). */
  queueName: string;
  /** Set: BullMQ on this connection (maxRetriesPerRequest: null). Unset: in-process timers. */
  bullConnection?: Redis;
  now?: () => number;
}

export interface AlertJobs {
  /** Evaluates now (tests, CLI) and queues what it found: at the instant `at` if given, else the current tick. */
  evaluateNow(at?: number): Promise<EvaluationResult>;
  close(): Promise<void>;
}

/** How far back the outbox sweep looks for notifications whose delivery never started or stalled. */
const SWEEP_MS = 6 * 3_600_000;

/**
 * Alert evaluation and webhook delivery for either mode, started beside the
 * pricing job by the same call (createWorker): BullMQ repeatable
 * evaluation and a delivery queue in the worker, an in-process timer in the
 * embedded default. Each evaluation: 1. evaluate every rule (new notifications
 * are written first); 2. queue their deliveries; 3. sweep the outbox for any
 * a crash left unqueued or a dead process left waiting to retry.
 */
export async function startAlertJobs(opts: AlertJobsOptions): Promise<AlertJobs> {
  const now = opts.now ?? Date.now;
  const rules = ruleRepo(opts.store);
  const events = new EventRepo(opts.store);
  const deliveries = new DeliveryRepo(opts.store);
  const deps: DeliveryDeps = { rules, events, deliveries, policy: opts.policy, logger: opts.logger, now };
  const evalDeps = { store: opts.store, rules, budgets: budgetRepo(opts.store), events, logger: opts.logger };

  let dispatcher: Dispatcher;
  const evaluate = async (tick: number): Promise<EvaluationResult> => {
    const started = performance.now();
    // 1. evaluate
    const result = await evaluateRules(evalDeps, tick);
    // 2. queue
    for (const n of result.notifications) await queueAll(n, result.byId);
    // 3. sweep
    await sweep(result.byId);
    opts.logger.info(
      {
        op: "alert_evaluate",
        tick: new Date(tick).toISOString(),
        rules: result.rules,
        failed: result.failed,
        notifications: result.notifications.length,
        ms: Math.round(performance.now() - started),
      },
      "alerts evaluated",
    );
    return result;
  };
  const queueAll = async (n: Notification, byId: Map<string, AlertRule>) => {
    const rule = byId.get(n.rule_id);
    if (!rule) return;
    for (let channel = 0; channel < rule.channels.length; channel++) {
      await dispatcher.enqueue({
        org_id: n.org_id,
        event_id: n.id,
        rule_id: n.rule_id,
        channel,
        delivery_id: deliveryId(n.id, channel),
        attempt: 1,
      });
    }
  };
  // Deliveries a crash left unqueued, or a dead process left waiting to retry (this process's own are skipped).
  const sweep = async (byId: Map<string, AlertRule>) => {
    const recent = (await events.since(now() - SWEEP_MS)).filter((n) =>
      (byId.get(n.rule_id)?.channels ?? []).some((_, channel) => !dispatcher.pending(deliveryId(n.id, channel))),
    );
    const latest = await deliveries.latest(recent.map((n) => n.id));
    for (const n of recent) {
      const channels = byId.get(n.rule_id)?.channels.length ?? 0;
      for (let channel = 0; channel < channels; channel++) {
        const id = deliveryId(n.id, channel);
        if (dispatcher.pending(id)) continue;
        const last = latest.get(id);
        const job = { org_id: n.org_id, event_id: n.id, rule_id: n.rule_id, channel, delivery_id: id };
        if (!last) await dispatcher.enqueue({ ...job, attempt: 1 });
        else if (last.status === "failed" && last.next_attempt_at !== null && last.next_attempt_at <= now())
          await dispatcher.enqueue({ ...job, attempt: last.attempt + 1 });
      }
    }
  };

  const tickOf = (at: number) => Math.floor(at / opts.intervalMs) * opts.intervalMs;
  if (opts.bullConnection) {
    const bull = await startBullAlerts({
      connection: opts.bullConnection,
      queueName: opts.queueName,
      intervalMs: opts.intervalMs,
      deps,
      logger: opts.logger,
      evaluate,
    });
    dispatcher = bull;
    return { evaluateNow: (at) => evaluate(at ?? tickOf(now())), close: () => bull.close() };
  }
  dispatcher = new InProcessDispatcher(deps, opts.logger);
  // One evaluation at a time: a slow one delays the next tick, never overlaps it.
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= evaluate(tickOf(now()))
      .catch((err) => opts.logger.error({ err, op: "alert_evaluate" }, "alert evaluation failed"))
      .finally(() => {
        running = undefined;
      });
  }, opts.intervalMs);
  timer.unref();
  return {
    evaluateNow: (at) => evaluate(at ?? tickOf(now())),
    async close() {
      clearInterval(timer);
      await running;
      await dispatcher.close();
    },
  };
}
