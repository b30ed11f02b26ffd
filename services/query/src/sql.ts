import type { Granularity } from "./buckets.js";
import type { FilterName } from "./params.js";
import type { Segment, Source } from "./plan.js";

/** An output column computed per source, then combined across sources by `outer`. */
export interface Measure {
  name: string;
  raw: string;
  /** Expression over the rollups (llm_usage_hourly, llm_usage_model_hourly, llm_usage_daily hold the same sums). */
  rollup: string;
  outer: string;
}

/** A GROUP BY key: an expression per source, same name everywhere. */
export interface Dimension {
  name: string;
  expr(source: Source): string;
}

export interface AggregateSpec {
  org_id: string;
  segments: Segment[];
  dims: Dimension[];
  measures: Measure[];
  filters: Partial<Record<FilterName, string[]>>;
  /** Extra predicate on every source (columns common to all tables). */
  where?: string;
  /** Outer ORDER BY; default the dims in order. */
  orderBy?: string;
  /** Bound to {limit:UInt32}. */
  limit?: number;
  /** Extra bound parameters used by dims or `where`. */
  params?: Record<string, unknown>;
}

export interface BuiltQuery {
  sql: string;
  params: Record<string, unknown>;
}

const TABLE: Record<Source, string> = {
  raw: "llm_usage",
  hourly: "llm_usage_hourly",
  model_hourly: "llm_usage_model_hourly",
  daily: "llm_usage_daily",
};
/** The time column of each source, as a UTC DateTime(64). */
export const TIME: Record<Source, string> = { raw: "event_time", hourly: "hour", model_hourly: "hour", daily: "toDateTime(day, 'UTC')" };
const RANGE_TYPE: Record<Source, string> = {
  raw: "DateTime64(3, 'UTC')",
  hourly: "DateTime('UTC')",
  model_hourly: "DateTime('UTC')",
  daily: "Date",
};
const RANGE_COLUMN: Record<Source, string> = { raw: "event_time", hourly: "hour", model_hourly: "hour", daily: "day" };

/** Sum of a column that the rollups also carry under the same name. */
export const sumOf = (col: string): Measure => ({ name: col, raw: `sum(${col})`, rollup: `sum(${col})`, outer: `sum(${col})` });
export const REQUESTS: Measure = { name: "requests", raw: "count()", rollup: "sum(requests)", outer: "sum(requests)" };
export const ERRORS: Measure = {
  name: "errors",
  raw: "countIf(status_code >= 400 OR error_code != '')",
  rollup: "sum(errors)",
  outer: "sum(errors)",
};
export const UNPRICED: Measure = {
  name: "unpriced_requests",
  raw: "countIf(cost_source = 'unpriced')",
  rollup: "sum(unpriced_requests)",
  outer: "sum(unpriced_requests)",
};
/** input + output summed per source, so the outer query sums one column. */
export const TOTAL_TOKENS: Measure = {
  name: "total_tokens",
  raw: "sum(input_tokens + output_tokens)",
  rollup: "sum(input_tokens + output_tokens)",
  outer: "sum(total_tokens)",
};
/** A latency t-digest: states from raw rows and merged hourly states combine into one sketch. */
export const latencySketch = (col: "duration_ms" | "ttfb_ms" | "proxy_overhead_ms"): Measure => ({
  name: `${col}_q`,
  raw: `quantilesTDigestState(0.5, 0.95, 0.99)(${col})`,
  rollup: `quantilesTDigestMergeState(0.5, 0.95, 0.99)(${col}_q)`,
  outer: `quantilesTDigestMerge(0.5, 0.95, 0.99)(${col}_q)`,
});
/**
 * Exact distinct non-empty values of a dimension: value sets merged across
 * sources (groupUniqArray states; measured ~25 % cheaper than uniqExact states
 * for user_id over the daily rollup, docs/benchmarks.md §3), then counted.
 */
export const distinctOf = (col: "agent_id" | "user_id"): Measure => ({
  name: `active_${col.replace("_id", "")}s`,
  raw: `groupUniqArrayStateIf(toString(${col}), ${col} != '')`,
  rollup: `groupUniqArrayStateIf(toString(${col}), ${col} != '')`,
  outer: `length(groupUniqArrayMerge(active_${col.replace("_id", "")}s))`,
});

export const column = (name: string): Dimension => ({ name, expr: () => name });
/** The group_by dimension, renamed `grp` so it never shadows a measure. */
export const groupDim = (col: string): Dimension => ({ name: "grp", expr: () => col });

/** Start of the bucket in `{tz:String}` as epoch seconds, from each source's time column. */
export function bucketDim(granularity: Granularity): Dimension {
  const wrap: Record<Granularity, (t: string) => string> = {
    hour: (t) => `toStartOfHour(${t}, {tz:String})`,
    day: (t) => `toStartOfDay(${t}, {tz:String})`,
    week: (t) => `toDateTime(toStartOfWeek(${t}, 1, {tz:String}), {tz:String})`,
    month: (t) => `toDateTime(toStartOfMonth(${t}, {tz:String}), {tz:String})`,
  };
  return { name: "bucket", expr: (source) => `toUnixTimestamp(${wrap[granularity](TIME[source])})` };
}

/** 0 before `{split}`, 1 from it on: the previous and current period of the summary in one pass. */
export const periodDim: Dimension = {
  name: "period",
  expr: (source) => `toUInt8(${TIME[source]} >= {split:DateTime64(3, 'UTC')})`,
};

/** ClickHouse text for an instant in the precision of a source's range column. */
export function rangeValue(source: Source, ms: number): string {
  const text = new Date(ms).toISOString().replace("T", " ").replace("Z", "");
  return source === "raw" ? text : source === "daily" ? text.slice(0, 10) : text.slice(0, 19);
}

/**
 * One SELECT per table (org-bound, its segments' ranges ORed), UNION ALL, then
 * an outer GROUP BY that combines sums and merges sketch states.
 * Every value is a bound parameter; only names from this file reach the text.
 */
export function buildAggregateQuery(spec: AggregateSpec): BuiltQuery {
  const params: Record<string, unknown> = { org_id: spec.org_id, ...spec.params };
  const filters = Object.entries(spec.filters)
    .filter(([, v]) => v && v.length > 0)
    .map(([k, v]) => {
      params[k] = v;
      return ` AND ${k} IN {${k}:Array(String)}`;
    })
    .join("");
  const dimNames = spec.dims.map((d) => d.name);
  const groupBy = dimNames.length > 0 ? ` GROUP BY ${dimNames.join(", ")}` : "";
  // Segments of one table share one SELECT (a range condition per segment, ORed): on chDB each
  // table read costs ~5 ms however few granules it touches, and the two raw edges of a range are common.
  const bySource = new Map<Source, string[]>();
  spec.segments.forEach((seg, i) => {
    params[`from_${i}`] = rangeValue(seg.source, seg.from);
    params[`to_${i}`] = rangeValue(seg.source, seg.to);
    const col = RANGE_COLUMN[seg.source];
    const type = RANGE_TYPE[seg.source];
    const ranges = bySource.get(seg.source) ?? [];
    ranges.push(`${col} >= {from_${i}:${type}} AND ${col} < {to_${i}:${type}}`);
    bySource.set(seg.source, ranges);
  });
  const selects = [...bySource].map(([source, ranges]) => {
    const cols = [
      ...spec.dims.map((d) => `${d.expr(source)} AS ${d.name}`),
      ...spec.measures.map((m) => `${source === "raw" ? m.raw : m.rollup} AS ${m.name}`),
    ];
    const range = ranges.length === 1 ? ranges[0] : `(${ranges.map((r) => `(${r})`).join(" OR ")})`;
    const where = `org_id = {org_id:String} AND ${range}${filters}${spec.where ? ` AND ${spec.where}` : ""}`;
    return `SELECT ${cols.join(", ")} FROM ${TABLE[source]} WHERE ${where}${groupBy}`;
  });
  const outer = [...dimNames, ...spec.measures.map((m) => `${m.outer} AS ${m.name}`)];
  const orderBy = spec.orderBy ?? dimNames.join(", ");
  let limit = "";
  if (spec.limit !== undefined) {
    params.limit = spec.limit;
    limit = " LIMIT {limit:UInt32}";
  }
  const sql = `SELECT ${outer.join(", ")} FROM (${selects.join(" UNION ALL ")})${groupBy}${orderBy ? ` ORDER BY ${orderBy}` : ""}${limit}`;
  return { sql, params };
}
