import { z } from "zod";
import type { EndpointDef, QueryContext } from "../endpoint.js";
import { usd } from "../endpoint.js";
import { iso } from "../params.js";
import { planSums } from "../plan.js";
import { groupSeries, seriesCsv, zeroFill } from "../series.js";
import { bucketDim, buildAggregateQuery, ERRORS, groupDim, REQUESTS, sumOf } from "../sql.js";

const Totals = z.object({
  requests: z.number().int(),
  errors: z.number().int(),
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cached_input_tokens: z.number().int(),
  reasoning_tokens: z.number().int(),
  total_tokens: z.number().int(),
  cost_usd: z.number(),
});
type Totals = z.infer<typeof Totals>;
const Point = Totals.extend({ bucket: z.iso.datetime() });
const Group = z.object({ key: z.string(), series: z.array(Point), totals: Totals });

export const UsageResponse = z.object({
  granularity: z.string(),
  start: z.iso.datetime(),
  end: z.iso.datetime(),
  tz: z.string(),
  series: z.array(Point),
  totals: Totals,
  groups: z.array(Group).optional().describe("Present with group_by: one zero-filled series per value"),
});
export type UsageResponse = z.infer<typeof UsageResponse>;

interface Row {
  bucket: number;
  grp?: string;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  reasoning_tokens: number;
  cost_usd: number;
}

const empty = (): Totals => ({
  requests: 0,
  errors: 0,
  input_tokens: 0,
  output_tokens: 0,
  cached_input_tokens: 0,
  reasoning_tokens: 0,
  total_tokens: 0,
  cost_usd: 0,
});

function add(acc: Totals, r: Omit<Row, "bucket" | "grp"> & { total_tokens?: number }): void {
  acc.requests += r.requests;
  acc.errors += r.errors;
  acc.input_tokens += r.input_tokens;
  acc.output_tokens += r.output_tokens;
  acc.cached_input_tokens += r.cached_input_tokens;
  acc.reasoning_tokens += r.reasoning_tokens;
  acc.total_tokens += r.total_tokens ?? r.input_tokens + r.output_tokens;
  acc.cost_usd += r.cost_usd;
}

function seriesOf(ctx: QueryContext, rows: Row[]) {
  const series = zeroFill(ctx.q.buckets, rows, empty, add);
  const totals = empty();
  for (const p of series) add(totals, p);
  for (const p of series) p.cost_usd = usd(p.cost_usd);
  totals.cost_usd = usd(totals.cost_usd);
  return { series, totals };
}

export async function getUsage(ctx: QueryContext): Promise<UsageResponse> {
  const { q } = ctx;
  // 1. Plan: user_id questions cannot use the hourly rollups; provider/model-only ones read the model rollup.
  const segments = planSums(q, q.buckets, []);
  // 2. One query: per bucket (and group), sums from each source combined.
  const built = buildAggregateQuery({
    org_id: ctx.org_id,
    segments,
    dims: [bucketDim(q.granularity), ...(q.group_by ? [groupDim(q.group_by)] : [])],
    measures: [REQUESTS, ERRORS, ...["input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens", "cost_usd"].map(sumOf)],
    filters: q.filters,
    params: { tz: q.tz },
  });
  const rows = await ctx.store.query<Row>(built.sql, built.params);
  // 3. Zero-filled series, and per-group series when grouped.
  const all = seriesOf(ctx, rows);
  const out: UsageResponse = { granularity: q.granularity, start: iso(q.start), end: iso(q.end), tz: q.tz, ...all };
  if (q.group_by) {
    out.groups = groupSeries(
      rows,
      (list) => seriesOf(ctx, list),
      (a, b) => b.totals.requests - a.totals.requests || (a.key < b.key ? -1 : 1),
    );
  }
  return out;
}

export const usage: EndpointDef<UsageResponse> = {
  name: "usage",
  path: "/v1/analytics/usage",
  summary: "Requests, errors, tokens and cost per time bucket",
  response: UsageResponse,
  run: getUsage,
  csv: seriesCsv,
};
