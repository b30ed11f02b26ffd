import { z } from "zod";
import type { EndpointDef, QueryContext } from "../endpoint.js";
import { type Picos, picos, usdOf } from "../money.js";
import { iso } from "../params.js";
import { planSums } from "../plan.js";
import { seriesCsv, topGroups, zeroFill } from "../series.js";
import { bucketDim, buildAggregateQuery, COST, ERRORS, groupDim, REQUESTS, sumOf } from "../sql.js";

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
  groups: z
    .array(Group)
    .optional()
    .describe('Present with group_by: one zero-filled series per value, ranked by cost_usd; past `limit` summed into "(other)"'),
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
  /** Decimal text: summed exactly as Picos. */
  cost_usd: string;
}

/** Totals while summing: cost exact, rounded once at the end. */
type Acc = Omit<Totals, "cost_usd"> & { cost: Picos };

const empty = (): Acc => ({
  requests: 0,
  errors: 0,
  input_tokens: 0,
  output_tokens: 0,
  cached_input_tokens: 0,
  reasoning_tokens: 0,
  total_tokens: 0,
  cost: 0n,
});

function add(acc: Acc, r: Omit<Acc, "total_tokens" | "cost"> & { total_tokens?: number; cost: Picos }): void {
  acc.requests += r.requests;
  acc.errors += r.errors;
  acc.input_tokens += r.input_tokens;
  acc.output_tokens += r.output_tokens;
  acc.cached_input_tokens += r.cached_input_tokens;
  acc.reasoning_tokens += r.reasoning_tokens;
  acc.total_tokens += r.total_tokens ?? r.input_tokens + r.output_tokens;
  acc.cost += r.cost;
}

const finish = ({ cost, ...rest }: Acc): Totals & { cost: Picos } => ({ ...rest, cost_usd: usdOf(cost), cost });

function seriesOf(ctx: QueryContext, rows: Row[]) {
  const series = zeroFill(ctx.q.buckets, rows, empty, (acc, r) => add(acc, { ...r, cost: picos(r.cost_usd) }));
  const totals = empty();
  for (const p of series) add(totals, p);
  return { series: series.map(({ bucket, ...p }) => ({ bucket, ...strip(finish(p)) })), totals: finish(totals) };
}

const strip = ({ cost: _exact, ...t }: Totals & { cost: Picos }): Totals => t;

export async function getUsage(ctx: QueryContext): Promise<UsageResponse> {
  const { q } = ctx;
  // 1. Plan: user_id questions cannot use the hourly rollups; provider/model/operation-only ones read the model rollup; tags read raw.
  const segments = planSums(q, q.buckets, [], ctx.tagRollupKeys);
  // 2. One query: per bucket (and group), sums from each source combined.
  const built = buildAggregateQuery({
    org_id: ctx.org_id,
    segments,
    dims: [bucketDim(q.granularity), ...(q.group_by ? [groupDim(q.group_by)] : [])],
    measures: [REQUESTS, ERRORS, ...["input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens"].map(sumOf), COST],
    filters: q.filters,
    params: { tz: q.tz },
  });
  const rows = await ctx.store.query<Row>(built.sql, built.params);
  // 3. Zero-filled series, and per-group series when grouped: ranked by cost, the tail summed into "(other)".
  const all = seriesOf(ctx, rows);
  const out: UsageResponse = {
    granularity: q.granularity,
    start: iso(q.start),
    end: iso(q.end),
    tz: q.tz,
    ...all,
    totals: strip(all.totals),
  };
  if (q.group_by) {
    out.groups = topGroups(
      rows,
      (list) => seriesOf(ctx, list),
      (t) => t.cost,
      q.limit,
    ).map((g) => ({ ...g, totals: strip(g.totals) }));
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
