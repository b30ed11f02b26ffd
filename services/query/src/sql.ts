import type { Granularity } from "./buckets.js";
import { type Filters, type Segment, type Source, tagKeyOf } from "./plan.js";

/** An output column computed per source, then combined across sources by `outer`. */
export interface Measure {
  name: string;
  raw: string;
  /**
   * Expression over the rollups (llm_usage_hourly, llm_usage_model_hourly, llm_usage_daily hold the same sums).
   * Absent: no rollup keeps what the measure needs, so only a raw-only plan may use it.
   */
  rollup?: string;
  outer: string;
}

/** A GROUP BY key: an expression per source, same name everywhere. */
export interface Dimension {
  name: string;
  expr(source: Source): string;
  /** Parameters its expression binds (a tag dimension's key). */
  params?: Record<string, unknown>;
}

export interface AggregateSpec {
  org_id: string;
  segments: Segment[];
  dims: Dimension[];
  measures: Measure[];
  filters: Filters;
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
  tag_hourly: "llm_usage_tag_hourly",
};
/** The time column of each source, as a UTC DateTime(64). */
export const TIME: Record<Source, string> = {
  raw: "event_time",
  hourly: "hour",
  model_hourly: "hour",
  daily: "toDateTime(day, 'UTC')",
  tag_hourly: "hour",
};
const RANGE_TYPE: Record<Source, string> = {
  raw: "DateTime64(3, 'UTC')",
  hourly: "DateTime('UTC')",
  model_hourly: "DateTime('UTC')",
  daily: "Date",
  tag_hourly: "DateTime('UTC')",
};
const RANGE_COLUMN: Record<Source, string> = { raw: "event_time", hourly: "hour", model_hourly: "hour", daily: "day", tag_hourly: "hour" };

/** Sum of a column that the rollups also carry under the same name. */
export const sumOf = (col: string): Measure => ({ name: col, raw: `sum(${col})`, rollup: `sum(${col})`, outer: `sum(${col})` });
/**
 * A money column summed exactly: Decimal(38, 12) in raw and every rollup, so
 * the sum is the same whatever the order; read as text (a JSON number would
 * pass through a double) and combined with endpoint.ts `Picos`.
 */
export const moneyOf = (col: string): Measure => ({ name: col, raw: `sum(${col})`, rollup: `sum(${col})`, outer: `toString(sum(${col}))` });
export const COST: Measure = moneyOf("cost_usd");
/** The cost breakdown columns (0006/0007), in the order the API lists them. */
export const COST_PARTS = [
  "cost_input_usd",
  "cost_cached_input_usd",
  "cost_cache_write_usd",
  "cost_output_usd",
  "cost_reasoning_usd",
  "cost_units_usd",
] as const;
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
/**
 * The exact p95 of a latency column, from raw rows only (as /v1/analytics/latency and the summary compute it): no
 * rollup keeps latency values (0014 dropped the hourly sketches nothing read). NULL when no call reported one.
 */
export const rawP95 = (col: "duration_ms" | "ttfb_ms"): Measure => ({
  name: `${col}_p95`,
  raw: `quantileExactState(0.95)(${col})`,
  outer: `quantileExactMerge(0.95)(${col}_p95)`,
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

/**
 * The group_by dimension, renamed `grp` so it never shadows a measure. A tag
 * key reads the raw Map (planned raw-only): events without the tag give "".
 */
export function groupDim(col: string): Dimension {
  const tag = tagKeyOf(col);
  if (tag === null) return { name: "grp", expr: () => assertColumn(col) };
  return {
    name: "grp",
    expr: (source) => (source === "tag_hourly" ? "tag_value" : "tags[{group_tag:String}]"),
    params: { group_tag: tag },
  };
}

/** Dimension columns a filter or group_by may name; anything else never reaches SQL text. */
export const DIMENSION_COLUMNS: ReadonlySet<string> = new Set(["project_id", "agent_id", "user_id", "provider", "model", "operation"]);

function assertColumn(name: string): string {
  if (!DIMENSION_COLUMNS.has(name)) throw new Error(`not a dimension column: ${JSON.stringify(name)}`);
  return name;
}

/**
 * The conditions of a {@link Filters} slice, each starting with " AND ", with
 * every value (and tag key) bound into `params`: a column's values with
 * `IN {col:Array(String)}`, a tag's with `tags[{tag_key_N:String}] IN …`
 * (both tag skip indexes of 0006 apply to that form).
 */
export function filterSql(filters: Filters, params: Record<string, unknown>, source: Source = "raw"): string {
  let out = "";
  let n = 0;
  for (const [name, values] of Object.entries(filters).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!values || values.length === 0) continue;
    const tag = tagKeyOf(name);
    if (tag === null) {
      params[name] = values;
      out += ` AND ${assertColumn(name)} IN {${name}:Array(String)}`;
    } else {
      params[`tag_key_${n}`] = tag;
      params[`tag_values_${n}`] = values;
      out +=
        source === "tag_hourly"
          ? ` AND tag_key = {tag_key_${n}:String} AND tag_value IN {tag_values_${n}:Array(String)}`
          : ` AND tags[{tag_key_${n}:String}] IN {tag_values_${n}:Array(String)}`;
      n++;
    }
  }
  return out;
}

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

function rollupOf(m: Measure, source: Source): string {
  if (m.rollup === undefined) throw new Error(`measure ${m.name} exists in raw rows only, but the plan reads ${source}`);
  return m.rollup;
}

/**
 * One SELECT per table (org-bound, its segments' ranges ORed), UNION ALL, then
 * an outer GROUP BY that combines sums and merges sketch states.
 * Every value is a bound parameter; only names from this file reach the text.
 */
export function buildAggregateQuery(spec: AggregateSpec): BuiltQuery {
  const params: Record<string, unknown> = { org_id: spec.org_id, ...spec.params };
  for (const d of spec.dims) Object.assign(params, d.params);
  const filtersOf = (source: Source) => {
    const where = filterSql(spec.filters, params, source);
    // The tag rollup holds every event once per promoted key: read one key's rows only (the planner's single key).
    if (source !== "tag_hourly" || where.includes("tag_key =")) return where;
    return ` AND tag_key = {group_tag:String}${where}`;
  };
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
      ...spec.measures.map((m) => `${source === "raw" ? m.raw : rollupOf(m, source)} AS ${m.name}`),
    ];
    const range = ranges.length === 1 ? ranges[0] : `(${ranges.map((r) => `(${r})`).join(" OR ")})`;
    const where = `org_id = {org_id:String} AND ${range}${filtersOf(source)}${spec.where ? ` AND ${spec.where}` : ""}`;
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
