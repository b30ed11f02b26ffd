import { z } from "zod";
import type { EndpointDef, QueryContext } from "../endpoint.js";
import { ratio } from "../endpoint.js";
import { iso } from "../params.js";
import { planSums } from "../plan.js";
import { seriesCsv, topGroups, zeroFill } from "../series.js";
import { bucketDim, buildAggregateQuery, column, ERRORS, groupDim, REQUESTS } from "../sql.js";

/** by_code key of errors that carry no error_code (status_code >= 400 only; the rollups keep no status). */
export const UNSPECIFIED_CODE = "unspecified";

const Totals = z.object({
  requests: z.number().int(),
  errors: z.number().int(),
  error_rate: z.number().describe("errors / requests, 0-1 (6 decimals); 0 without requests"),
  by_code: z.record(z.string(), z.number().int()),
});
type Totals = z.infer<typeof Totals>;
const Point = Totals.extend({ bucket: z.iso.datetime() });

export const ErrorsResponse = z.object({
  granularity: z.string(),
  start: z.iso.datetime(),
  end: z.iso.datetime(),
  tz: z.string(),
  series: z.array(Point),
  totals: Totals,
  groups: z
    .array(z.object({ key: z.string(), series: z.array(Point), totals: Totals }))
    .optional()
    .describe('Present with group_by: ranked by errors; past `limit` summed into "(other)"'),
});
export type ErrorsResponse = z.infer<typeof ErrorsResponse>;

interface Row {
  bucket: number;
  error_code: string;
  grp?: string;
  requests: number;
  errors: number;
}

const empty = (): Totals => ({ requests: 0, errors: 0, error_rate: 0, by_code: {} });

function seriesOf(ctx: QueryContext, rows: Row[]) {
  const codes = ctx.q.error_codes ? new Set(ctx.q.error_codes) : null;
  const add = (acc: Totals, r: { requests: number; errors: number; error_code: string }) => {
    acc.requests += r.requests;
    // error_code narrows the errors counted, not the requests they are a rate of.
    if (r.errors === 0 || (codes && !codes.has(r.error_code))) return;
    acc.errors += r.errors;
    const key = r.error_code || UNSPECIFIED_CODE;
    acc.by_code[key] = (acc.by_code[key] ?? 0) + r.errors;
  };
  const series = zeroFill(ctx.q.buckets, rows, empty, add);
  const totals = empty();
  for (const p of series) {
    p.error_rate = ratio(p.errors, p.requests);
    totals.requests += p.requests;
    totals.errors += p.errors;
    for (const [code, n] of Object.entries(p.by_code)) totals.by_code[code] = (totals.by_code[code] ?? 0) + n;
  }
  totals.error_rate = ratio(totals.errors, totals.requests);
  return { series, totals };
}

export async function getErrors(ctx: QueryContext): Promise<ErrorsResponse> {
  const { q } = ctx;
  const segments = planSums(q, q.buckets, ["error_code"], ctx.tagRollupKeys);
  // Grouped by error_code too: requests of every code make the rate, the codes make by_code.
  const built = buildAggregateQuery({
    org_id: ctx.org_id,
    segments,
    dims: [bucketDim(q.granularity), column("error_code"), ...(q.group_by ? [groupDim(q.group_by)] : [])],
    measures: [REQUESTS, ERRORS],
    filters: q.filters,
    params: { tz: q.tz },
  });
  const rows = await ctx.store.query<Row>(built.sql, built.params);
  const out: ErrorsResponse = { granularity: q.granularity, start: iso(q.start), end: iso(q.end), tz: q.tz, ...seriesOf(ctx, rows) };
  if (q.group_by) {
    // Ranked by errors, the tail past `limit` summed into "(other)".
    out.groups = topGroups(
      rows,
      (list) => seriesOf(ctx, list),
      (t) => t.errors,
      q.limit,
    );
  }
  return out;
}

export const errors: EndpointDef<ErrorsResponse> = {
  name: "errors",
  path: "/v1/analytics/errors",
  summary: "Requests, errors, error rate and errors by code per time bucket",
  response: ErrorsResponse,
  run: getErrors,
  csv: seriesCsv,
};
