import { z } from "zod";
import { iso } from "../params.js";
import type { Budget } from "./model.js";
import type { Spent } from "./spent.js";
import { type BudgetState, forecast, judge } from "./window.js";

const State = z.enum(["ok", "warning", "exceeded"]);
const Figures = z.object({ spent: z.number(), remaining: z.number(), pct: z.number(), forecast: z.number(), state: State });

export const BudgetStatus = z.object({
  id: z.string(),
  metric: z.string(),
  limit: z.number(),
  window_start: z.iso.datetime(),
  window_end: z.iso.datetime(),
  resets_at: z.iso.datetime().nullable().describe("End of a calendar window; null for a rolling window"),
  ...Figures.shape,
  groups: z.array(Figures.extend({ key: z.string() })).describe("With `per`: one row per value, each judged against the limit"),
});
export type BudgetStatus = z.infer<typeof BudgetStatus>;

export interface GroupStatus {
  key: string;
  spent: number;
  remaining: number;
  pct: number;
  forecast: number;
  state: BudgetState;
}

/** Status from what the window holds: pure, so the API, the evaluator and the dashboard agree. */
export function budgetStatus(budget: Budget, spent: Spent, now: number): BudgetStatus {
  const rolling = "rolling_hours" in budget.window;
  const figures = (value: number) => ({
    spent: value,
    ...judge(budget.metric, value, budget.limit, budget.thresholds),
    forecast: forecast(budget.metric, value, spent.window, now, rolling),
  });
  const groups: GroupStatus[] = [...spent.groups].map(([key, value]) => ({ key, ...figures(value) }));
  groups.sort((a, b) => b.spent - a.spent || (a.key < b.key ? -1 : 1));
  const top = figures(spent.total);
  return {
    id: budget.id,
    metric: budget.metric,
    limit: budget.limit,
    window_start: iso(spent.window.start),
    window_end: iso(spent.window.end),
    resets_at: spent.window.resets_at === null ? null : iso(spent.window.resets_at),
    spent: top.spent,
    remaining: top.remaining,
    pct: top.pct,
    forecast: top.forecast,
    state: top.state,
    groups,
  };
}
