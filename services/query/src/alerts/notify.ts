import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * A notification's stable id from its dedup key (rule, group, window start or
 * episode, threshold or transition): the same key always gives the same id, so
 * a repeated evaluation writes the same row and queues the same delivery job.
 */
export function notificationId(parts: readonly (string | number)[]): string {
  return `ntf_${createHash("sha256").update(parts.map(String).join("\u0000")).digest("hex").slice(0, 32)}`;
}

/** `Tokenmeter-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${v1}`;
}

/** Checks a signature header against the raw body (receivers; our tests). `toleranceS` bounds replay. */
export function verifySignature(secret: string, body: string, header: string, nowS: number, toleranceS = 300): boolean {
  const parts = Object.fromEntries(header.split(",").map((p) => p.split("=", 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(nowS - t) > toleranceS || !parts.v1) return false;
  const want = Buffer.from(createHmac("sha256", secret).update(`${t}.${body}`).digest("hex"));
  const got = Buffer.from(parts.v1);
  return want.length === got.length && timingSafeEqual(want, got);
}

/**
 * Delay before the next attempt after attempt `n` (1-based) failed: the first
 * retry after `baseMs` (60 s by default, "at most 60 s"), the second after 2 ×,
 * then doubling; 8 attempts span 60 × (1 + 2 + … + 64) s = 2 h 7 min.
 */
export function retryDelayMs(failedAttempt: number, baseMs: number): number {
  return baseMs * 2 ** (failedAttempt - 1);
}

export const NOTIFICATION_TYPES = ["alert.triggered", "alert.resolved", "budget.threshold_crossed", "budget.exceeded"] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export interface Notification {
  id: string;
  type: NotificationType;
  org_id: string;
  rule_id: string;
  group_key: string;
  /** Metric rules: when the episode began; budget rules: the window start. Epoch ms. */
  episode: number;
  occurred_at: number;
  data: Record<string, unknown>;
}

/** The webhook body: `{id, type, org_id, occurred_at, data}`. */
export function webhookBody(n: Notification, test = false): string {
  return JSON.stringify({
    id: n.id,
    type: n.type,
    org_id: n.org_id,
    occurred_at: new Date(n.occurred_at).toISOString(),
    data: test ? { ...n.data, test: true } : n.data,
  });
}

/** A Slack incoming-webhook message: one readable line plus the figures. */
export function slackBody(n: Notification, ruleName: string): string {
  const d = n.data;
  const key = d.key !== undefined && d.key !== null ? ` for ${String(d.key) || '""'}` : "";
  const head =
    n.type === "budget.exceeded"
      ? `:rotating_light: Budget *${ruleName}* exceeded${key}: ${d.spent} of ${d.limit}`
      : n.type === "budget.threshold_crossed"
        ? `:warning: Budget *${ruleName}* passed ${d.threshold}%${key}: ${d.spent} of ${d.limit}`
        : n.type === "alert.triggered"
          ? `:red_circle: Alert *${ruleName}* triggered${key}: ${d.metric} ${d.op} ${d.threshold} (value ${d.value})`
          : `:large_green_circle: Alert *${ruleName}* resolved${key}: ${d.metric} is ${d.value}`;
  return JSON.stringify({ text: `${head} (${new Date(n.occurred_at).toISOString()}, id ${n.id})` });
}
