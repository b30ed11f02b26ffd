import type { Store } from "@tokenmeter/clickhouse";
import { ApiError } from "@tokenmeter/http";
import { z } from "zod";
import { type AnalyticsQuery, iso, parseQuery } from "../params.js";
import { planSums, type Segment } from "../plan.js";
import { getUsage } from "../routes/usage.js";
import { buildAggregateQuery, type Dimension, groupDim, type Measure, REQUESTS, sumOf, TOTAL_TOKENS } from "../sql.js";
import type { Budget, BudgetMetric } from "./model.js";
import { scopeFilters } from "./model.js";
import { roundMetric, type WindowSpan, windowAt } from "./window.js";

/** What a budget holds in its current window: the whole slice, and per group when it has `per`. */
export interface Spent {
  window: WindowSpan;
  total: number;
  /** Group value → spent (only with `per`); a value with no usage is absent (0). */
  groups: Map<string, number>;
}

/** Most groups one budget reports and judges (a `per` over a high-cardinality dimension stays bounded). */
export const MAX_GROUPS = 10_000;

const MEASURE: Record<BudgetMetric, Measure> = {
  cost_usd: sumOf("cost_usd"),
  total_tokens: TOTAL_TOKENS,
  requests: REQUESTS,
};

/**
 * The analytics question a budget's window asks: the same parameters a client
 * would send to /v1/analytics/usage (start/end = the window, the scope as
 * filters), parsed by the same function, so planning, sources and rounding are
 * the usage endpoint's. One bucket for a calendar window (its period in its
 * zone); days in UTC for a rolling one (up to 90 of them).
 */
export function windowQuery(budget: Budget, span: WindowSpan, now: number): AnalyticsQuery {
  const w = budget.window;
  const raw: Record<string, string | string[]> = {
    start: iso(span.start),
    end: iso(span.end),
    ...("rolling_hours" in w ? { granularity: "day", tz: "UTC" } : { granularity: w.period, tz: w.tz }),
    ...scopeFilters(budget.scope),
  };
  return parseQuery("usage", raw, now);
}

/**
 * `spent` exactly as /v1/analytics/usage totals it (getUsage itself), and with
 * `per` one more query through the same planner and SQL builder grouped by
 * that dimension.
 */
export async function computeSpent(store: Store, org_id: string, budget: Budget, now: number, timeoutMs = 10_000): Promise<Spent> {
  const window = windowAt(budget.window, now);
  const q = windowQuery(budget, window, now);
  const bounded: Store = withTimeout(store, timeoutMs);
  const usage = await getUsage({ store: bounded, org_id, q });
  const total = usage.totals[budget.metric];
  const groups = budget.per ? await spentByGroup(bounded, org_id, budget.metric, budget.per, q) : new Map<string, number>();
  return { window, total, groups };
}

const GroupRow = z.object({ grp: z.coerce.string(), spent: z.coerce.number() });

async function spentByGroup(store: Store, org_id: string, metric: BudgetMetric, per: string, q: AnalyticsQuery) {
  const { dim, params, segments } = groupPlan(per, q);
  const built = buildAggregateQuery({
    org_id,
    segments,
    dims: [dim],
    measures: [MEASURE[metric]],
    filters: q.filters,
    orderBy: `${MEASURE[metric].name} DESC, grp`,
    limit: MAX_GROUPS,
    params: { tz: q.tz, ...params },
  });
  const rows = await store.query<Record<string, unknown>>(built.sql, built.params);
  return new Map(
    rows.map((r) => GroupRow.parse({ grp: r.grp, spent: r[MEASURE[metric].name] })).map((r) => [r.grp, roundMetric(metric, r.spent)]),
  );
}

/**
 * The group dimension and the segments that can answer it. A tag is only on
 * raw rows, so a `tag.<key>` split reads raw; a column split is planned like
 * a usage group_by on that column.
 */
function groupPlan(per: string, q: AnalyticsQuery): { dim: Dimension; params: Record<string, unknown>; segments: Segment[] } {
  if (per.startsWith("tag.")) {
    return {
      dim: { name: "grp", expr: () => "tags[{per_tag:String}]" },
      params: { per_tag: per.slice(4) },
      segments: [{ source: "raw", from: q.start, to: q.end }],
    };
  }
  return { dim: groupDim(per), params: {}, segments: planSums({ ...q, group_by: per as AnalyticsQuery["group_by"] }, q.buckets, [per]) };
}

/** Every store call of a budget read bounded in time (the check's refresh loop must never hang). */
function withTimeout(store: Store, timeoutMs: number): Store {
  return {
    database: store.database,
    query: (sql, params, opts) => store.query(sql, params, { timeoutMs, ...opts }),
    insert: store.insert.bind(store),
    command: store.command.bind(store),
    close: store.close.bind(store),
  };
}

/** A scope the analytics cannot answer (a filter this build's planner lacks) is the client's 400, named. */
export function explainScopeError(err: unknown): never {
  if (err instanceof ApiError && err.code === "invalid_parameter")
    throw new ApiError("bad_request", `the budget's scope or window cannot be queried: ${err.message}`, err.details);
  throw err;
}
