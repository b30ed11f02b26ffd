import type { Logger } from "pino";
import type { AlertRule } from "./model.js";
import { type Notification, retryDelayMs, signatureHeader, slackBody, webhookBody } from "./notify.js";
import { postJson, RefusedAddressError } from "./post.js";
import { type DeliveryAttempt, type DeliveryRepo, type DeliveryStatus, type EventRepo, type RuleRepo, toRule } from "./repo.js";
import { staticUrlProblem } from "./url-guard.js";

/** Delivery settings (config: TOKENMETER_WEBHOOK_*). */
export interface DeliveryPolicy {
  allowPrivate: boolean;
  /** Per attempt, the whole exchange (default 10 s). */
  timeoutMs: number;
  /** First retry delay; doubles after each failure (default 60 s). */
  retryBaseMs: number;
  /** Attempts in all, the first included (default 8). */
  maxAttempts: number;
}

export interface DeliveryDeps {
  rules: RuleRepo;
  events: EventRepo;
  deliveries: DeliveryRepo;
  policy: DeliveryPolicy;
  logger: Logger;
  now: () => number;
}

/** One attempt to send one notification to one channel of its rule. */
export interface DeliveryJob {
  org_id: string;
  event_id: string;
  rule_id: string;
  channel: number;
  /** "<event id>:<channel>", or with ":r<n>" for a resend. */
  delivery_id: string;
  attempt: number;
}

export interface AttemptOutcome {
  status: DeliveryStatus;
  response_code: number;
  error: string;
  /** Set when the delivery should be tried again after this many ms. */
  retry_in_ms: number | null;
}

export const deliveryId = (event_id: string, channel: number) => `${event_id}:${channel}`;

/**
 * Sends one attempt and logs it: 1. load the notification and its rule's
 * channel; 2. check the URL (again: the policy or DNS may have changed);
 * 3. POST, signed, with the notification id as Idempotency-Key; 4. log the
 * attempt with whether and when it will be retried.
 */
export async function attemptDelivery(
  deps: DeliveryDeps,
  job: DeliveryJob,
  given?: { n: Notification; rule: AlertRule; test?: boolean },
): Promise<AttemptOutcome> {
  const { policy } = deps;
  // 1. What to send, where.
  const n = given?.n ?? (await deps.events.get(job.org_id, job.event_id));
  const stored = given ? undefined : await deps.rules.get(job.org_id, job.rule_id);
  const rule = given?.rule ?? (stored ? toRule(stored) : undefined);
  const channel = rule?.channels[job.channel];
  let outcome: AttemptOutcome;
  if (!n || !rule || !channel) {
    outcome = {
      status: "gave_up",
      response_code: 0,
      error: "the notification, its rule or the channel no longer exists",
      retry_in_ms: null,
    };
  } else {
    // 2. The URL, again.
    const problem = staticUrlProblem(channel.url, policy.allowPrivate);
    if (problem) outcome = { status: "refused", response_code: 0, error: `url ${problem}`, retry_in_ms: null };
    else outcome = await send(deps, job, n, rule, channel, given?.test ?? false);
  }
  // 4. The log.
  const at = deps.now();
  const attempt: DeliveryAttempt = {
    org_id: job.org_id,
    delivery_id: job.delivery_id,
    event_id: job.event_id,
    rule_id: job.rule_id,
    channel: job.channel,
    channel_type: channel?.type ?? "",
    attempt: job.attempt,
    status: outcome.status,
    response_code: outcome.response_code,
    error: outcome.error.slice(0, 1000),
    at,
    next_attempt_at: outcome.retry_in_ms === null ? null : at + outcome.retry_in_ms,
  };
  await deps.deliveries.log(attempt);
  deps.logger[outcome.status === "delivered" ? "debug" : "warn"](
    {
      op: "alert_delivery",
      delivery_id: job.delivery_id,
      attempt: job.attempt,
      status: outcome.status,
      response_code: outcome.response_code,
      error: outcome.error,
    },
    "alert delivery attempt",
  );
  return outcome;
}

// 3. POST.
async function send(
  deps: DeliveryDeps,
  job: DeliveryJob,
  n: Notification,
  rule: AlertRule,
  channel: AlertRule["channels"][number],
  test: boolean,
): Promise<AttemptOutcome> {
  const { policy } = deps;
  const body = channel.type === "slack" ? slackBody(n, rule.name) : webhookBody(n, test);
  const headers: Record<string, string> = { "idempotency-key": n.id, "user-agent": "Tokenmeter-Webhooks/1" };
  if (channel.type === "webhook") headers["tokenmeter-signature"] = signatureHeader(channel.secret, body, Math.floor(deps.now() / 1000));
  const retry = job.attempt < policy.maxAttempts ? retryDelayMs(job.attempt, policy.retryBaseMs) : null;
  try {
    const res = await postJson(channel.url, body, headers, { timeoutMs: policy.timeoutMs, allowPrivate: policy.allowPrivate });
    if (res.status >= 200 && res.status < 300) return { status: "delivered", response_code: res.status, error: "", retry_in_ms: null };
    return {
      status: retry === null ? "gave_up" : "failed",
      response_code: res.status,
      error: `answered ${res.status}`,
      retry_in_ms: retry,
    };
  } catch (err) {
    if (err instanceof RefusedAddressError) return { status: "refused", response_code: 0, error: err.message, retry_in_ms: null };
    return { status: retry === null ? "gave_up" : "failed", response_code: 0, error: (err as Error).message, retry_in_ms: retry };
  }
}
