import type { Store } from "@tokenmeter/clickhouse";
import { z } from "zod";
import { scopeFilters } from "../budgets/model.js";
import { usd } from "../endpoint.js";
import { iso, parseQuery } from "../params.js";
import { planSegments } from "../plan.js";
import { buildAggregateQuery, type Dimension, ERRORS, groupDim, REQUESTS, rawP95, sumOf, TOTAL_TOKENS } from "../sql.js";
import type { MetricSource } from "./model.js";

export interface MetricValue {
  requests: number;
  /** null: no figure (a percentile over calls that reported no latency). */
  value: number | null;
}

const Row = z.object({
  grp: z.coerce.string().optional(),
  requests: z.coerce.number(),
  errors: z.coerce.number(),
  cost_usd: z.coerce.number(),
  total_tokens: z.coerce.number(),
  // null: no call in the window reported the figure (not coerced: null must not become 0).
  duration_ms_p95: z.number().nullable().optional(),
  ttfb_ms_p95: z.number().nullable().optional(),
});

/**
 * A metric rule's figures over [tick − window, tick), per group (top
 * `max_groups` by requests) or for the whole slice under the key "". Planned
 * like the analytics (the filters parsed by the same function; rollups where
 * the range allows, raw at the edges); a p95 rule reads raw rows (its window
 * is at most 1,440 minutes).
 */
export async function metricValues(store: Store, org_id: string, src: MetricSource, tick: number): Promise<Map<string, MetricValue>> {
  const start = tick - src.window_minutes * 60_000;
  const q = parseQuery("usage", { start: iso(start), end: iso(tick), granularity: "hour", tz: "UTC", ...scopeFilters(src.filters) }, tick);
  const latency = src.metric === "p95_duration_ms" || src.metric === "p95_ttfb_ms";
  const per = src.per;
  const tag = per?.startsWith("tag.") ?? false;
  const used = [...Object.keys(q.filters), ...(per ? [per] : [])];
  // A tag group and a percentile read raw rows only (no rollup keeps a tag per group or latency values).
  const segments =
    tag || latency
      ? [{ source: "raw" as const, from: q.start, to: q.end }]
      : planSegments(q.start, q.end, q.buckets, { user: used.includes("user_id"), hourlyFrom: q.hourly_from });
  const dims: Dimension[] = per ? [tag ? { name: "grp", expr: () => "tags[{per_tag:String}]" } : groupDim(per)] : [];
  const built = buildAggregateQuery({
    org_id,
    segments,
    dims,
    measures: [
      REQUESTS,
      ERRORS,
      sumOf("cost_usd"),
      TOTAL_TOKENS,
      ...(latency ? [rawP95(src.metric === "p95_ttfb_ms" ? "ttfb_ms" : "duration_ms")] : []),
    ],
    filters: q.filters,
    orderBy: "requests DESC",
    limit: per ? src.max_groups : 1,
    params: { tz: "UTC", ...(tag && per ? { per_tag: per.slice(4) } : {}) },
  });
  const rows = (await store.query(built.sql, built.params)).map((r) => Row.parse(r));
  const out = new Map<string, MetricValue>();
  for (const r of rows) {
    if (r.requests === 0) continue;
    out.set(r.grp ?? "", { requests: r.requests, value: figure(src.metric, r) });
  }
  return out;
}

function figure(metric: MetricSource["metric"], r: z.infer<typeof Row>): number | null {
  switch (metric) {
    case "cost_usd":
      return usd(r.cost_usd);
    case "requests":
      return r.requests;
    case "total_tokens":
      return r.total_tokens;
    case "error_rate":
      return r.requests > 0 ? Math.round((r.errors / r.requests) * 1e6) / 1e6 : null;
    default: {
      const p95 = metric === "p95_ttfb_ms" ? r.ttfb_ms_p95 : r.duration_ms_p95;
      return p95 === undefined || p95 === null || Number.isNaN(p95) ? null : Math.round(p95);
    }
  }
}
