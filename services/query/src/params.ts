import { ApiError } from "@tokenmeter/http";
import { z } from "zod";
import { bucketStarts, canonicalTimeZone, GRANULARITIES, type Granularity } from "./buckets.js";
import { hourlyRetentionStart } from "./plan.js";

/** Limits of the query API (DESIGN.md "Query API v1"). */
export const QUERY_LIMITS = {
  maxSpanDays: 400,
  maxBuckets: 2_000,
  defaultSpanDays: 7,
  maxLimit: 1_000,
  defaultLimit: 10,
  maxFilterValues: 100,
} as const;

const DAY_MS = 86_400_000;

export const FILTERS = ["project_id", "agent_id", "user_id", "provider", "model"] as const;
export type FilterName = (typeof FILTERS)[number];
export const GROUP_BYS = ["provider", "model", "agent_id", "project_id", "user_id"] as const;
export type GroupBy = (typeof GROUP_BYS)[number];
export const PERCENTILES = ["50", "95", "99"] as const;
export const FORMATS = ["json", "csv"] as const;
/** Parameters that may be given several times (`?model=a&model=b`). */
export const REPEATABLE = new Set<string>([...FILTERS, "percentile", "error_code"]);

const instant = z.iso.datetime({ offset: true, message: "must be an ISO-8601 instant with a zone, e.g. 2026-03-01T00:00:00Z" });
const filterValues = z
  .array(z.string().min(1, "must not be empty").max(256, "at most 256 characters"))
  .max(QUERY_LIMITS.maxFilterValues, `at most ${QUERY_LIMITS.maxFilterValues} values`);

const common = {
  start: instant.optional().describe("Inclusive start; default end - 7 days"),
  end: instant.optional().describe("Exclusive end; default now snapped down to the minute"),
  tz: z.string().max(64).optional().describe("IANA zone for bucket boundaries; default UTC"),
  format: z.enum(FORMATS).optional().describe("csv returns the series/table as CSV (or send Accept: text/csv)"),
  ...Object.fromEntries(FILTERS.map((f) => [f, filterValues.optional().describe(`Only events with this ${f} (repeatable)`)])),
} as Record<string, z.ZodType>;
const granularity = z.enum(GRANULARITIES).optional().describe("Bucket size; default day");
const groupBy = z.enum(GROUP_BYS).optional().describe("Adds one zero-filled series per value of this dimension");

/** Query-parameter schemas per endpoint: validation and the OpenAPI document come from these. */
export const PARAMS = {
  usage: z.strictObject({ ...common, granularity, group_by: groupBy }),
  latency: z.strictObject({
    ...common,
    granularity,
    percentile: z.array(z.enum(PERCENTILES)).optional().describe("50, 95 and/or 99 (repeatable); default all three"),
  }),
  models: z.strictObject({ ...common, granularity: ignoredGranularity() }),
  errors: z.strictObject({
    ...common,
    granularity,
    group_by: groupBy,
    error_code: filterValues.optional().describe("Count only errors with this code (repeatable)"),
  }),
  agents: z.strictObject({ ...common, granularity: ignoredGranularity(), limit: limitParam() }),
  users: z.strictObject({ ...common, granularity: ignoredGranularity(), limit: limitParam() }),
  summary: z.strictObject({ ...common, granularity: ignoredGranularity() }),
} as const;
export type Endpoint = keyof typeof PARAMS;

/** Endpoints that return a time series (the bucket limit applies to them only). */
export const SERIES_ENDPOINTS = new Set<Endpoint>(["usage", "latency", "errors"]);

/** Table endpoints accept the dashboard's common granularity (it sets the cache TTL) but have no buckets. */
function ignoredGranularity() {
  return z.enum(GRANULARITIES).optional().describe("Accepted for a uniform query string; sets the cache TTL only");
}

function limitParam() {
  // Checked in parseQuery so every bad limit gets the same message with its range.
  return z
    .string()
    .optional()
    .describe(`Rows returned, an integer from 1 to ${QUERY_LIMITS.maxLimit}; default ${QUERY_LIMITS.defaultLimit}`);
}

/** A validated query: instants in epoch ms, defaults applied, zone canonical. */
export interface AnalyticsQuery {
  start: number;
  end: number;
  tz: string;
  granularity: Granularity;
  filters: Partial<Record<FilterName, string[]>>;
  group_by?: GroupBy;
  percentiles: number[];
  error_codes?: string[];
  limit: number;
  format: "json" | "csv";
  /** Bucket starts covering [start, end). */
  buckets: number[];
  /** Where raw/hourly retention starts for this clock (which tables can answer; not part of the answer). */
  hourly_from: number;
}

/**
 * Collapses `?a=1&a=2` into arrays for repeatable parameters and single values
 * otherwise. Into an object without a prototype: on a plain one `__proto__=x`
 * would set the prototype instead of a key and slip past the unknown-parameter check.
 */
export function collectParams(queries: Record<string, string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [k, vs] of Object.entries(queries)) {
    if (REPEATABLE.has(k)) out[k] = vs;
    else if (vs.length > 1) throw invalid(k, `${k} must be given at most once`, { received: vs });
    else out[k] = vs[0] ?? "";
  }
  return out;
}

/**
 * Validates and resolves an endpoint's parameters; every problem becomes a 400
 * naming the parameter and what is allowed. `now` is epoch ms.
 */
export function parseQuery(endpoint: Endpoint, raw: Record<string, string | string[]>, now: number, accept?: string): AnalyticsQuery {
  const parsed = PARAMS[endpoint].safeParse(raw);
  if (!parsed.success) throw fromZod(parsed.error, Object.keys(PARAMS[endpoint].shape));
  const p = parsed.data as Record<string, unknown>;

  const tz = canonicalTimeZone((p.tz as string | undefined) ?? "UTC");
  if (!tz) throw invalid("tz", "tz must be an IANA time zone such as UTC or America/New_York", { received: p.tz });
  const end = p.end !== undefined ? Date.parse(p.end as string) : Math.floor(now / 60_000) * 60_000;
  const start = p.start !== undefined ? Date.parse(p.start as string) : end - QUERY_LIMITS.defaultSpanDays * DAY_MS;
  if (start >= end)
    throw invalid(p.start !== undefined ? "start" : "end", "start must be before end", { start: iso(start), end: iso(end) });
  if (end - start > QUERY_LIMITS.maxSpanDays * DAY_MS) {
    throw invalid("start", `the span from start to end must be at most ${QUERY_LIMITS.maxSpanDays} days`, {
      max_days: QUERY_LIMITS.maxSpanDays,
      received_days: (end - start) / DAY_MS,
    });
  }
  checkInstantRange(endpoint, start, end, p.start !== undefined ? "start" : "end");
  const granularity = (p.granularity as Granularity | undefined) ?? "day";
  const buckets = SERIES_ENDPOINTS.has(endpoint) ? bucketStarts(granularity, tz, start, end, QUERY_LIMITS.maxBuckets) : [];
  if (buckets.length > QUERY_LIMITS.maxBuckets) {
    throw invalid("granularity", `the range holds more than ${QUERY_LIMITS.maxBuckets} ${granularity} buckets; use a coarser granularity`, {
      max_buckets: QUERY_LIMITS.maxBuckets,
      allowed: GRANULARITIES,
    });
  }
  const limit = p.limit !== undefined ? (/^\d{1,7}$/.test(p.limit as string) ? Number(p.limit) : Number.NaN) : QUERY_LIMITS.defaultLimit;
  if (!(limit >= 1 && limit <= QUERY_LIMITS.maxLimit)) {
    throw invalid("limit", `limit must be an integer from 1 to ${QUERY_LIMITS.maxLimit}`, {
      min: 1,
      max: QUERY_LIMITS.maxLimit,
      received: p.limit,
    });
  }
  const filters: AnalyticsQuery["filters"] = {};
  for (const f of FILTERS) {
    const v = p[f] as string[] | undefined;
    if (v && v.length > 0) filters[f] = [...new Set(v)].sort();
  }
  const percentiles = [...new Set(((p.percentile as string[] | undefined) ?? PERCENTILES).map(Number))].sort((a, b) => a - b);
  const errorCodes = p.error_code as string[] | undefined;
  const wantsCsv = p.format === "csv" || (p.format === undefined && /\btext\/csv\b/i.test(accept ?? ""));
  return {
    start,
    end,
    tz,
    granularity,
    filters,
    ...(p.group_by ? { group_by: p.group_by as GroupBy } : {}),
    percentiles,
    ...(errorCodes && errorCodes.length > 0 ? { error_codes: [...new Set(errorCodes)].sort() } : {}),
    limit,
    format: wantsCsv ? "csv" : "json",
    buckets,
    hourly_from: hourlyRetentionStart(now),
  };
}

/**
 * Instants every table's time type can hold (Date and DateTime: 1970 to
 * 2106), so the engine never refuses a bound parameter (a 500 before): [start,
 * end) must lie in [1970-01-01, 2100-01-01), and for the summary the previous
 * period (the equal span before start) as well. No event can be stored
 * outside it (13-month TTL, at most 5 minutes ahead).
 */
export const INSTANT_RANGE = { min: Date.UTC(1970, 0, 1), max: Date.UTC(2100, 0, 1) } as const;

function checkInstantRange(endpoint: Endpoint, start: number, end: number, parameter: string): void {
  const from = endpoint === "summary" ? start - (end - start) : start;
  if (from >= INSTANT_RANGE.min && end <= INSTANT_RANGE.max) return;
  const what = endpoint === "summary" ? "the range and the previous period of equal span" : "the range";
  const name = from < INSTANT_RANGE.min ? parameter : "end";
  throw invalid(name, `${name} is out of range: ${what} must lie between ${iso(INSTANT_RANGE.min)} and ${iso(INSTANT_RANGE.max)}`, {
    min: iso(INSTANT_RANGE.min),
    max: iso(INSTANT_RANGE.max),
  });
}

/** The parameters that decide the answer (not its format): what the cache key is made of. */
export function canonicalParams(q: AnalyticsQuery): Record<string, unknown> {
  return {
    start: q.start,
    end: q.end,
    tz: q.tz,
    granularity: q.granularity,
    filters: q.filters,
    group_by: q.group_by,
    percentiles: q.percentiles,
    error_codes: q.error_codes,
    limit: q.limit,
  };
}

export const iso = (ms: number) => new Date(ms).toISOString();

function invalid(parameter: string, message: string, extra: Record<string, unknown> = {}): ApiError {
  return new ApiError("invalid_parameter", message, { parameter, ...extra });
}

function fromZod(error: z.ZodError, known: string[]): ApiError {
  const issues = error.issues.map((i) => {
    const issue = i as z.core.$ZodIssue & { values?: unknown[]; keys?: string[]; minimum?: unknown; maximum?: unknown };
    const unknown = issue.code === "unrecognized_keys";
    const parameter = unknown ? (issue.keys ?? []).join(", ") : String(i.path[0] ?? "(query)");
    const allowed = unknown ? known : issue.values;
    return {
      parameter,
      message: unknown
        ? `unknown parameter ${parameter}`
        : issue.values
          ? `${parameter} must be one of ${issue.values.join(", ")}`
          : `${parameter}: ${i.message}`,
      ...(allowed ? { allowed } : {}),
      ...(issue.minimum !== undefined ? { min: Number(issue.minimum) } : {}),
      ...(issue.maximum !== undefined ? { max: Number(issue.maximum) } : {}),
    };
  });
  const first = issues[0] ?? { parameter: "(query)", message: "invalid query" };
  return new ApiError("invalid_parameter", issues.map((i) => i.message).join("; "), { ...first, issues });
}
