import { z } from "zod";
import type { EndpointDef, QueryContext } from "../endpoint.js";
import { ratio, usd } from "../endpoint.js";
import { iso } from "../params.js";
import { planSegments } from "../plan.js";
import { tableOf } from "../series.js";
import { buildAggregateQuery, distinctOf, ERRORS, latencySketch, periodDim, REQUESTS, rangeValue, sumOf, UNPRICED } from "../sql.js";
import { pick } from "./latency.js";

const Period = z.object({
  start: z.iso.datetime(),
  end: z.iso.datetime(),
  requests: z.number().int(),
  errors: z.number().int(),
  error_rate: z.number(),
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  total_tokens: z.number().int(),
  cost_usd: z.number(),
  avg_cost_per_request: z.number(),
  active_agents: z.number().int().describe("Distinct non-empty agent_id"),
  active_users: z.number().int().describe("Distinct non-empty user_id"),
  p95_duration_ms: z.number().nullable(),
  unpriced_requests: z.number().int(),
  latest_event_at: z.iso.datetime().nullable().describe("event_time of the newest event in the period"),
});
export const SummaryResponse = Period.extend({ previous: Period.describe("The same figures for the equal span before start") });
export type SummaryResponse = z.infer<typeof SummaryResponse>;
type Period = z.infer<typeof Period>;

interface SumsRow {
  period: number;
  requests: number;
  errors: number;
  unpriced_requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  active_agents: number;
  duration_ms_q: [number | null, number | null, number | null] | null;
}

/**
 * Newest event_time in a range: reads backwards along the primary key
 * (org_id, event_time), so it touches the last granules only.
 */
export function buildLatestQuery(org_id: string, from: number, to: number, filters: Record<string, string[] | undefined>) {
  const params: Record<string, unknown> = { org_id, from: rangeValue("raw", from), to: rangeValue("raw", to) };
  let where = "org_id = {org_id:String} AND event_time >= {from:DateTime64(3, 'UTC')} AND event_time < {to:DateTime64(3, 'UTC')}";
  for (const [k, v] of Object.entries(filters)) {
    if (!v || v.length === 0) continue;
    params[k] = v;
    where += ` AND ${k} IN {${k}:Array(String)}`;
  }
  return { sql: `SELECT toUnixTimestamp64Milli(event_time) AS t FROM llm_usage WHERE ${where} ORDER BY event_time DESC LIMIT 1`, params };
}

export async function getSummary(ctx: QueryContext): Promise<SummaryResponse> {
  const { q, store } = ctx;
  const prevStart = q.start - (q.end - q.start);
  const common = { org_id: ctx.org_id, dims: [periodDim], filters: q.filters, params: { split: rangeValue("raw", q.start) } };
  // 1. Sums, agents and p95 over both periods at once (hourly has agent_id and sketches).
  const sums = buildAggregateQuery({
    ...common,
    segments: planSegments(prevStart, q.end, [q.start], { user: !!q.filters.user_id, latency: true, hourlyFrom: q.hourly_from }),
    measures: [
      REQUESTS,
      ERRORS,
      UNPRICED,
      sumOf("input_tokens"),
      sumOf("output_tokens"),
      sumOf("cost_usd"),
      distinctOf("agent_id"),
      latencySketch("duration_ms"),
    ],
  });
  // 2. Users: only raw and the daily rollup know user_id.
  const users = buildAggregateQuery({
    ...common,
    segments: planSegments(prevStart, q.end, [q.start], { user: true, latency: false, hourlyFrom: q.hourly_from }),
    measures: [distinctOf("user_id")],
  });
  const cur = buildLatestQuery(ctx.org_id, q.start, q.end, q.filters);
  const prev = buildLatestQuery(ctx.org_id, prevStart, q.start, q.filters);
  const [sumRows, userRows, curLatest, prevLatest] = await Promise.all([
    store.query<SumsRow>(sums.sql, sums.params),
    store.query<{ period: number; active_users: number }>(users.sql, users.params),
    store.query<{ t: number }>(cur.sql, cur.params),
    store.query<{ t: number }>(prev.sql, prev.params),
  ]);
  // 2. One figure set per period.
  const period = (p: 0 | 1, from: number, to: number, latest: { t: number }[]): Period => {
    const s = sumRows.find((r) => Number(r.period) === p);
    const requests = s?.requests ?? 0;
    const cost = s?.cost_usd ?? 0;
    const latestMs = latest[0]?.t;
    return {
      start: iso(from),
      end: iso(to),
      requests,
      errors: s?.errors ?? 0,
      error_rate: ratio(s?.errors ?? 0, requests),
      input_tokens: s?.input_tokens ?? 0,
      output_tokens: s?.output_tokens ?? 0,
      total_tokens: (s?.input_tokens ?? 0) + (s?.output_tokens ?? 0),
      cost_usd: usd(cost),
      avg_cost_per_request: requests > 0 ? usd(cost / requests) : 0,
      active_agents: s?.active_agents ?? 0,
      active_users: userRows.find((r) => Number(r.period) === p)?.active_users ?? 0,
      p95_duration_ms: s ? pick(s.duration_ms_q, 95) : null,
      unpriced_requests: s?.unpriced_requests ?? 0,
      latest_event_at: latestMs !== undefined ? iso(Number(latestMs)) : null,
    };
  };
  return { ...period(1, q.start, q.end, curLatest), previous: period(0, prevStart, q.start, prevLatest) };
}

export const summary: EndpointDef<SummaryResponse> = {
  name: "summary",
  path: "/v1/analytics/summary",
  summary: "KPIs of the range and of the equal span before it",
  response: SummaryResponse,
  run: getSummary,
  csv: (r) => {
    const { previous, ...current } = r;
    return tableOf([
      { period: "current", ...current },
      { period: "previous", ...previous },
    ]);
  },
};
