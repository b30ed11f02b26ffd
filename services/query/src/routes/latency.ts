import { z } from "zod";
import type { EndpointDef, QueryContext } from "../endpoint.js";
import { iso } from "../params.js";
import { planSegments } from "../plan.js";
import { tableOf, zeroFill } from "../series.js";
import { bucketDim, buildAggregateQuery, latencySketch, REQUESTS } from "../sql.js";

const METRICS = ["ttfb_ms", "proxy_overhead_ms", "duration_ms"] as const;
const Pct = z.record(z.string(), z.number().nullable()).describe("p50 / p95 / p99 as requested; null where the bucket has no value");
const Point = z.object({ bucket: z.iso.datetime(), requests: z.number().int(), ttfb_ms: Pct, proxy_overhead_ms: Pct, duration_ms: Pct });

export const LatencyResponse = z.object({
  granularity: z.string(),
  start: z.iso.datetime(),
  end: z.iso.datetime(),
  tz: z.string(),
  series: z.array(Point),
});
export type LatencyResponse = z.infer<typeof LatencyResponse>;

type Sketch = [number | null, number | null, number | null] | null;
interface Row {
  bucket: number;
  requests: number;
  ttfb_ms_q: Sketch;
  proxy_overhead_ms_q: Sketch;
  duration_ms_q: Sketch;
}

/** Positions of p50, p95, p99 in the rollup's quantilesTDigest(0.5, 0.95, 0.99) state. */
const POSITION: Record<number, number> = { 50: 0, 95: 1, 99: 2 };

/** A sketch value, rounded to 0.001 ms; NaN/absent means no values. */
export function pick(sketch: Sketch, p: number): number | null {
  const v = sketch?.[POSITION[p] ?? -1];
  return typeof v === "number" && Number.isFinite(v) ? Math.round(v * 1000) / 1000 : null;
}

export async function getLatency(ctx: QueryContext): Promise<LatencyResponse> {
  const { q } = ctx;
  // 1. Plan: hourly sketches, raw for edges (and for user_id filters: the hourly rollup has no user_id).
  const segments = planSegments(q.start, q.end, q.buckets, { user: !!q.filters.user_id, latency: true, hourlyFrom: q.hourly_from });
  // 2. Merge raw-edge states with hourly states per bucket.
  const built = buildAggregateQuery({
    org_id: ctx.org_id,
    segments,
    dims: [bucketDim(q.granularity)],
    measures: [REQUESTS, ...METRICS.map(latencySketch)],
    filters: q.filters,
    params: { tz: q.tz },
  });
  const rows = await ctx.store.query<Row>(built.sql, built.params);
  // 3. Zero-filled: a bucket without calls has null percentiles.
  type Acc = Omit<z.infer<typeof Point>, "bucket">;
  const nulls = () => Object.fromEntries(q.percentiles.map((p) => [`p${p}`, null])) as Record<string, number | null>;
  const series = zeroFill<Row, Acc>(
    q.buckets,
    rows,
    () => ({ requests: 0, ttfb_ms: nulls(), proxy_overhead_ms: nulls(), duration_ms: nulls() }),
    (acc, r) => {
      acc.requests += r.requests;
      for (const m of METRICS) for (const p of q.percentiles) acc[m][`p${p}`] = pick(r[`${m}_q`], p);
    },
  );
  return { granularity: q.granularity, start: iso(q.start), end: iso(q.end), tz: q.tz, series };
}

export const latency: EndpointDef<LatencyResponse> = {
  name: "latency",
  path: "/v1/analytics/latency",
  summary: "Latency percentiles (TTFB, proxy overhead, duration) per time bucket",
  response: LatencyResponse,
  run: getLatency,
  csv: (r) => tableOf(r.series),
};
