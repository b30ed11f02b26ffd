import type { Store } from "@tokenmeter/clickhouse";
import type { Logger } from "pino";
import type { Budget } from "../budgets/model.js";
import { type BudgetRepo, toBudget } from "../budgets/repo.js";
import { computeSpent } from "../budgets/spent.js";
import { judge } from "../budgets/window.js";
import { iso } from "../params.js";
import { metricValues } from "./metric.js";
import type { AlertRule, MetricSource } from "./model.js";
import { type Notification, notificationId } from "./notify.js";
import { type EventRepo, type RuleRepo, toRule } from "./repo.js";

export interface EvaluateDeps {
  store: Store;
  rules: RuleRepo;
  budgets: BudgetRepo;
  events: EventRepo;
  logger: Logger;
}

export interface EvaluationResult {
  rules: number;
  failed: number;
  /** Notifications written by this evaluation (not the ones an earlier one already wrote). */
  notifications: Notification[];
  /** The enabled rules evaluated, by id. */
  byId: Map<string, AlertRule>;
}

const HOUR_MS = 3_600_000;

/**
 * One evaluation of every enabled rule at `tick` (the minute being evaluated,
 * from the schedule, so a late or repeated run evaluates the same instant).
 * A rule that fails is logged and skipped; the others still run.
 */
export async function evaluateRules(deps: EvaluateDeps, tick: number): Promise<EvaluationResult> {
  const rules = (await deps.rules.list()).map(toRule).filter((r) => r.enabled);
  const budgetsByOrg = new Map<string, Map<string, Budget>>();
  const out: EvaluationResult = { rules: rules.length, failed: 0, notifications: [], byId: new Map(rules.map((r) => [r.id, r])) };
  for (const rule of rules) {
    try {
      const found =
        "budget_id" in rule.source
          ? await budgetRule(deps, rule, rule.source.budget_id, tick, budgetsByOrg)
          : await metricRule(deps, rule, rule.source, tick);
      // Written before anything is sent: the row is the outbox, and its id makes a repeat a no-op.
      await deps.events.insert(found);
      out.notifications.push(...found);
    } catch (err) {
      out.failed++;
      deps.logger.error({ err, op: "alert_evaluate", org_id: rule.org_id, rule_id: rule.id }, "alert rule evaluation failed");
    }
  }
  return out;
}

/**
 * Budget thresholds: one notification per (rule, group, window start,
 * threshold) first crossed. A rolling window has no start; its "window" for
 * deduplication is the block of its own length the tick falls in.
 */
async function budgetRule(
  deps: EvaluateDeps,
  rule: AlertRule,
  budgetId: string,
  tick: number,
  cache: Map<string, Map<string, Budget>>,
): Promise<Notification[]> {
  let budgets = cache.get(rule.org_id);
  if (!budgets) {
    budgets = new Map((await deps.budgets.list(rule.org_id)).map((s) => [s.id, toBudget(s)]));
    cache.set(rule.org_id, budgets);
  }
  const budget = budgets.get(budgetId);
  if (!budget) return [];
  const spent = await computeSpent(deps.store, rule.org_id, budget, tick);
  const period = "rolling_hours" in budget.window ? budget.window.rolling_hours * HOUR_MS : 0;
  const episode = period > 0 ? Math.floor(tick / period) * period : spent.window.start;
  const groups: [string | null, number][] = budget.per ? [...spent.groups] : [[null, spent.total]];
  const candidates: Notification[] = [];
  for (const [key, value] of groups) {
    const { pct } = judge(budget.metric, value, budget.limit, budget.thresholds);
    for (const threshold of budget.thresholds.filter((t) => pct >= t)) {
      candidates.push({
        id: notificationId([rule.id, key ?? "", episode, threshold]),
        type: threshold >= 100 ? "budget.exceeded" : "budget.threshold_crossed",
        org_id: rule.org_id,
        rule_id: rule.id,
        group_key: key ?? "",
        episode,
        occurred_at: tick,
        data: {
          rule_id: rule.id,
          budget_id: budget.id,
          budget_name: budget.name,
          metric: budget.metric,
          threshold,
          spent: value,
          limit: budget.limit,
          pct,
          window_start: iso(spent.window.start),
          window_end: iso(spent.window.end),
          ...(budget.per ? { key } : {}),
        },
      });
    }
  }
  const seen = await deps.events.existing(
    rule.org_id,
    candidates.map((c) => c.id),
  );
  return candidates.filter((c) => !seen.has(c.id));
}

/**
 * Metric rules: per group a state machine ok → triggered → ok, the state being
 * the last transition written. Triggers when at least min_requests calls were
 * seen and the value is past the threshold; resolves when that no longer holds.
 */
async function metricRule(deps: EvaluateDeps, rule: AlertRule, src: MetricSource, tick: number): Promise<Notification[]> {
  const values = await metricValues(deps.store, rule.org_id, src, tick);
  const state = await deps.events.lastTransitions(rule.org_id, rule.id);
  const keys = new Set<string>([...values.keys(), ...[...state].filter(([, s]) => s.type === "alert.triggered").map(([k]) => k)]);
  const out: Notification[] = [];
  for (const key of keys) {
    const v = values.get(key) ?? { requests: 0, value: null };
    const breach =
      v.requests >= src.min_requests && v.value !== null && (src.op === ">" ? v.value > src.threshold : v.value < src.threshold);
    const prev = state.get(key);
    const triggered = prev?.type === "alert.triggered";
    if (breach === triggered) continue;
    const episode = breach ? tick : (prev?.episode ?? tick);
    const type = breach ? "alert.triggered" : "alert.resolved";
    out.push({
      id: notificationId([rule.id, key, episode, type]),
      type,
      org_id: rule.org_id,
      rule_id: rule.id,
      group_key: key,
      episode,
      occurred_at: tick,
      data: {
        rule_id: rule.id,
        rule_name: rule.name,
        metric: src.metric,
        op: src.op,
        threshold: src.threshold,
        value: v.value,
        requests: v.requests,
        window_start: iso(tick - src.window_minutes * 60_000),
        window_end: iso(tick),
        triggered_at: iso(episode),
        ...(src.per ? { key } : {}),
      },
    });
  }
  return out;
}
