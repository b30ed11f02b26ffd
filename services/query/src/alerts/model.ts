import { z } from "zod";
import { Per, Scope } from "../budgets/model.js";
import { staticUrlProblem } from "./url-guard.js";

export const ALERT_METRICS = ["cost_usd", "requests", "error_rate", "p95_duration_ms", "p95_ttfb_ms", "total_tokens"] as const;
export type AlertMetric = (typeof ALERT_METRICS)[number];

/** A rule's source: a budget's thresholds, or a metric over a trailing window. Refined, not a union, so each field gets its own message. */
const Source = z
  .strictObject({
    budget_id: z.string().min(1).optional(),
    metric: z.enum(ALERT_METRICS).optional(),
    window_minutes: z.number().int().min(1, "must be at least 1").max(1440, "must be at most 1440").optional(),
    op: z.enum([">", "<"]).optional(),
    threshold: z.number().min(0, "must be 0 or more").optional(),
    min_requests: z.number().int().min(0).optional(),
    filters: Scope.optional(),
    per: Per.nullable().optional(),
    max_groups: z.number().int().min(1).max(1000, "must be at most 1000").optional(),
  })
  .superRefine((s, ctx) => {
    if (s.budget_id !== undefined) {
      if (s.metric !== undefined) ctx.addIssue({ code: "custom", message: "give either budget_id or metric, not both" });
      return;
    }
    if (s.metric === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["metric"],
        message: `required (one of ${ALERT_METRICS.join(", ")}) unless budget_id is given`,
      });
    if (s.threshold === undefined) ctx.addIssue({ code: "custom", path: ["threshold"], message: "required for a metric rule" });
  })
  .transform(
    (s): AlertSource =>
      s.budget_id !== undefined
        ? { budget_id: s.budget_id }
        : {
            metric: s.metric as AlertMetric,
            window_minutes: s.window_minutes ?? 60,
            op: s.op ?? ">",
            threshold: s.threshold ?? 0,
            min_requests: s.min_requests ?? 0,
            filters: s.filters ?? {},
            per: s.per ?? null,
            max_groups: s.max_groups ?? 100,
          },
  );

export type MetricSource = {
  metric: AlertMetric;
  window_minutes: number;
  op: ">" | "<";
  threshold: number;
  min_requests: number;
  filters: Scope;
  per: string | null;
  max_groups: number;
};
export type AlertSource = { budget_id: string } | MetricSource;

/** Rules are validated against the deployment's private-address policy. */
export function alertRuleInput(allowPrivate: boolean) {
  const url = z.string().superRefine((u, ctx) => {
    const problem = staticUrlProblem(u, allowPrivate);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });
  const Channel = z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("webhook"), url, secret: z.string().min(8, "at least 8 characters").max(256).optional() }),
    z.strictObject({ type: z.literal("slack"), url }),
  ]);
  return z.strictObject({
    name: z.string().trim().min(1, "must not be empty").max(200),
    source: Source,
    channels: z.array(Channel).min(1, "give at least one channel").max(10, "at most 10 channels"),
    enabled: z.boolean().default(true),
  });
}
export type AlertRuleInput = z.output<ReturnType<typeof alertRuleInput>>;
export type Channel = AlertRuleInput["channels"][number];

/** What is stored (URLs re-checked at delivery, so the stored form is not re-validated against the policy). */
export const StoredRule = alertRuleInput(true).extend({
  channels: z.array(
    z.discriminatedUnion("type", [
      z.object({ type: z.literal("webhook"), url: z.string(), secret: z.string() }),
      z.object({ type: z.literal("slack"), url: z.string() }),
    ]),
  ),
});
export type StoredRule = z.output<typeof StoredRule>;

export interface AlertRule extends StoredRule {
  id: string;
  org_id: string;
  created_at: string;
  updated_at: string;
}
