import { OPERATIONS } from "@tokenmeter/core";
import { ApiError } from "@tokenmeter/http";
import { z } from "zod";
import { bucketStarts, canonicalTimeZone, GRANULARITIES, type Granularity, startOfLocalDay } from "./buckets.js";
import { type Filters, hourlyRetentionStart, TAG_PREFIX } from "./plan.js";

/** Limits of the query API (docs/api.md "Common parameters"). */
export const QUERY_LIMITS = {
  maxSpanDays: 400,
  maxBuckets: 2_000,
  defaultSpanDays: 7,
  maxLimit: 1_000,
  defaultLimit: 10,
  /** group_by answers: the first `limit` groups, the rest summed into "(other)". */
  maxGroupLimit: 100,
  /** /v1/tags/keys and /v1/tags/values. */
  defaultTagLimit: 100,
  maxFilterValues: 100,
  /** Distinct tag.<key> filters in one query. */
  maxTagFilters: 20,
} as const;

const DAY_MS = 86_400_000;

export const FILTERS = ["project_id", "agent_id", "user_id", "provider", "model", "operation"] as const;
export type FilterName = (typeof FILTERS)[number];
export const GROUP_BYS = ["provider", "model", "agent_id", "project_id", "user_id", "operation"] as const;
/** A dimension column, or `tag.<key>` (split at the first dot: `tag.cost.center` is the key `cost.center`). */
export type GroupBy = (typeof GROUP_BYS)[number] | `tag.${string}`;
/** Tag keys as the event schema allows them (DESIGN.md "Event schema v1.1"). */
export const TAG_KEY = /^[A-Za-z0-9_.:-]{1,64}$/;
export const PERCENTILES = ["50", "95", "99"] as const;
export const FORMATS = ["json", "csv"] as const;
/** Parameters that may be given several times (`?model=a&model=b`). */
export const REPEATABLE = new Set<string>([...FILTERS, "percentile", "error_code"]);

/** An instant with a zone, or a date (local midnight in `tz`), like the CLI's --from/--to. */
const instant = z.union([z.iso.datetime({ offset: true }), z.iso.date()], {
  message: "must be an ISO-8601 instant with a zone (2026-03-01T00:00:00Z) or a date (2026-03-01 = midnight in tz)",
});
const filterValues = z
  .array(z.string().min(1, "must not be empty").max(256, "at most 256 characters"))
  .max(QUERY_LIMITS.maxFilterValues, `at most ${QUERY_LIMITS.maxFilterValues} values`);

// The event schema's enum: an operation filter outside it is a 400, not an empty answer.
const operationValues = z
  .array(z.enum(OPERATIONS, { message: `must be one of ${OPERATIONS.join(", ")}` }))
  .max(QUERY_LIMITS.maxFilterValues, `at most ${QUERY_LIMITS.maxFilterValues} values`);

const common = {
  start: instant.optional().describe("Inclusive start (instant, or a date = local midnight in tz); default end - 7 days"),
  end: instant.optional().describe("Exclusive end (instant, or a date = local midnight in tz); default now snapped down to the minute"),
  tz: z.string().max(64).optional().describe("IANA zone for bucket boundaries; default UTC"),
  format: z.enum(FORMATS).optional().describe("csv returns the series/table as CSV (or send Accept: text/csv)"),
  ...Object.fromEntries(
    FILTERS.map((f) => [
      f,
      (f === "operation" ? operationValues : filterValues)
        .optional()
        .describe(`Only events with this ${f} (repeatable: any of the values)`),
    ]),
  ),
} as Record<string, z.ZodType>;
const granularity = z.enum(GRANULARITIES).optional().describe("Bucket size; default day");
// Checked in parseQuery: tag.<key> is open-ended, and the 400 lists what is allowed.
const groupBy = z
  .string()
  .optional()
  .describe(
    `Adds one zero-filled series per value of this dimension (${GROUP_BYS.join(", ")} or tag.<key>): the first \`limit\` groups by rank, the rest summed into "(other)"`,
  );
const groupLimit = z
  .string()
  .optional()
  .describe(
    `Groups returned with group_by, 1 to ${QUERY_LIMITS.maxGroupLimit}; default ${QUERY_LIMITS.defaultLimit}; the rest are summed into "(other)"`,
  );

/** Query-parameter schemas per endpoint: validation and the OpenAPI document come from these. */
export const PARAMS = {
  usage: z.strictObject({ ...common, granularity, group_by: groupBy, limit: groupLimit }),
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
    limit: groupLimit,
    error_code: filterValues.optional().describe("Count only errors with this code (repeatable)"),
  }),
  agents: z.strictObject({ ...common, granularity: ignoredGranularity(), limit: limitParam() }),
  users: z.strictObject({ ...common, granularity: ignoredGranularity(), limit: limitParam() }),
  summary: z.strictObject({ ...common, granularity: ignoredGranularity() }),
  tag_keys: z.strictObject({ ...common, granularity: ignoredGranularity(), limit: tagLimit() }),
  tag_values: z.strictObject({
    ...common,
    granularity: ignoredGranularity(),
    limit: tagLimit(),
    key: z
      .string()
      .regex(TAG_KEY, "must be a tag key: 1-64 characters of A-Z a-z 0-9 _ . : -")
      .describe("The tag key whose values to list"),
  }),
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

function tagLimit() {
  return z
    .string()
    .optional()
    .describe(`Rows returned, an integer from 1 to ${QUERY_LIMITS.maxLimit}; default ${QUERY_LIMITS.defaultTagLimit}`);
}

/** Highest and default `limit` per endpoint. */
function limitRange(endpoint: Endpoint): { max: number; fallback: number } {
  if (endpoint === "usage" || endpoint === "errors") return { max: QUERY_LIMITS.maxGroupLimit, fallback: QUERY_LIMITS.defaultLimit };
  if (endpoint === "tag_keys" || endpoint === "tag_values") return { max: QUERY_LIMITS.maxLimit, fallback: QUERY_LIMITS.defaultTagLimit };
  return { max: QUERY_LIMITS.maxLimit, fallback: QUERY_LIMITS.defaultLimit };
}

/** A validated query: instants in epoch ms, defaults applied, zone canonical. */
export interface AnalyticsQuery {
  start: number;
  end: number;
  tz: string;
  granularity: Granularity;
  /** Dimension and `tag.<key>` filters (plan.ts {@link Filters}): values sorted and unique. */
  filters: Filters;
  group_by?: GroupBy;
  /** tag_values: the key whose values are listed. */
  tag_key?: string;
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
    if (REPEATABLE.has(k) || k.startsWith(TAG_PREFIX)) out[k] = vs;
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
  // Every problem is reported at once: the schema's, then the checks between parameters.
  // tag.<key> filters are open-ended names: checked here (a bad one is a 400 at once), the rest by the endpoint's schema.
  const { tags, rest } = splitTagParams(raw);
  const problems: Issue[] = [];
  const parsed = PARAMS[endpoint].safeParse(rest);
  if (!parsed.success) problems.push(...fromZod(parsed.error, Object.keys(PARAMS[endpoint].shape)));
  const bad = (name: string) => problems.some((i) => i.parameter === name);
  // Values the schema refused are left out of the checks below (their problem is already listed).
  const p = (parsed.success ? parsed.data : validPart(endpoint, rest)) as Record<string, unknown>;

  const tzRaw = typeof raw.tz === "string" ? raw.tz : "UTC";
  const tz = bad("tz") ? "UTC" : canonicalTimeZone(tzRaw);
  if (!tz) problems.push({ parameter: "tz", message: "tz must be an IANA time zone such as UTC or America/New_York", received: tzRaw });
  const zone = tz ?? "UTC";
  const end = p.end !== undefined ? resolveInstant(p.end as string, zone) : defaultEnd(now);
  const start = p.start !== undefined ? resolveInstant(p.start as string, zone) : end - QUERY_LIMITS.defaultSpanDays * DAY_MS;
  const rangeKnown = !bad("start") && !bad("end");
  if (rangeKnown && start >= end)
    problems.push({
      parameter: p.start !== undefined ? "start" : "end",
      message: "start must be before end",
      start: iso(start),
      end: iso(end),
    });
  else if (rangeKnown && end - start > QUERY_LIMITS.maxSpanDays * DAY_MS) {
    problems.push({
      parameter: "start",
      message: `the span from start to end must be at most ${QUERY_LIMITS.maxSpanDays} days`,
      max_days: QUERY_LIMITS.maxSpanDays,
      received_days: (end - start) / DAY_MS,
    });
  }
  const outside = rangeKnown ? checkInstantRange(endpoint, start, end, p.start !== undefined ? "start" : "end") : null;
  if (outside) problems.push(outside);
  const granularity = (p.granularity as Granularity | undefined) ?? "day";
  const countable = rangeKnown && !outside && start < end && end - start <= QUERY_LIMITS.maxSpanDays * DAY_MS && !bad("granularity");
  const buckets = countable && SERIES_ENDPOINTS.has(endpoint) ? bucketStarts(granularity, zone, start, end, QUERY_LIMITS.maxBuckets) : [];
  if (buckets.length > QUERY_LIMITS.maxBuckets) {
    // Only the granularities this range fits in are offered.
    const fit = GRANULARITIES.filter((g) => bucketStarts(g, zone, start, end, QUERY_LIMITS.maxBuckets).length <= QUERY_LIMITS.maxBuckets);
    problems.push({
      parameter: "granularity",
      message: `the range holds more than ${QUERY_LIMITS.maxBuckets} ${granularity} buckets; use granularity=${fit.join(" or ")}`,
      max_buckets: QUERY_LIMITS.maxBuckets,
      allowed: fit,
    });
  }
  const groupBy = p.group_by as string | undefined;
  if (
    groupBy !== undefined &&
    !(GROUP_BYS as readonly string[]).includes(groupBy) &&
    !(groupBy.startsWith(TAG_PREFIX) && TAG_KEY.test(groupBy.slice(TAG_PREFIX.length)))
  ) {
    problems.push({
      parameter: "group_by",
      message: `group_by must be one of ${GROUP_BYS.join(", ")} or tag.<key> (key: 1-64 characters of A-Z a-z 0-9 _ . : -)`,
      allowed: [...GROUP_BYS, "tag.<key>"],
      received: groupBy,
    });
  }
  const range = limitRange(endpoint);
  const limit = p.limit !== undefined ? (/^\d{1,7}$/.test(p.limit as string) ? Number(p.limit) : Number.NaN) : range.fallback;
  if (!(limit >= 1 && limit <= range.max)) {
    problems.push({
      parameter: "limit",
      message: `limit must be an integer from 1 to ${range.max}`,
      min: 1,
      max: range.max,
      received: p.limit,
    });
  }
  if (problems.length > 0) throw invalidAll(problems);
  const filters: Record<string, string[]> = {};
  for (const f of FILTERS) {
    const v = p[f] as string[] | undefined;
    if (v && v.length > 0) filters[f] = [...new Set(v)].sort();
  }
  for (const [k, v] of Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : 1))) filters[k] = [...new Set(v)].sort();
  const percentiles = [...new Set(((p.percentile as string[] | undefined) ?? PERCENTILES).map(Number))].sort((a, b) => a - b);
  const errorCodes = p.error_code as string[] | undefined;
  const wantsCsv = p.format === "csv" || (p.format === undefined && /\btext\/csv\b/i.test(accept ?? ""));
  return {
    start,
    end,
    tz: zone,
    granularity,
    filters,
    ...(p.group_by ? { group_by: p.group_by as GroupBy } : {}),
    ...(p.key !== undefined ? { tag_key: p.key as string } : {}),
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

function checkInstantRange(endpoint: Endpoint, start: number, end: number, parameter: string): Issue | null {
  const from = endpoint === "summary" ? start - (end - start) : start;
  if (from >= INSTANT_RANGE.min && end <= INSTANT_RANGE.max) return null;
  const what = endpoint === "summary" ? "the range and the previous period of equal span" : "the range";
  const name = from < INSTANT_RANGE.min ? parameter : "end";
  return {
    parameter: name,
    message: `${name} is out of range: ${what} must lie between ${iso(INSTANT_RANGE.min)} and ${iso(INSTANT_RANGE.max)}`,
    min: iso(INSTANT_RANGE.min),
    max: iso(INSTANT_RANGE.max),
  };
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
    tag_key: q.tag_key,
    percentiles: q.percentiles,
    error_codes: q.error_codes,
    limit: q.limit,
  };
}

export const iso = (ms: number) => new Date(ms).toISOString();

/** Separates `tag.<key>` parameters (checked: key pattern, 1-256 character values, counts) from the rest. */
function splitTagParams(raw: Record<string, string | string[]>): {
  tags: Record<string, string[]>;
  rest: Record<string, string | string[]>;
} {
  // No prototypes: `__proto__` must stay an ordinary (unknown) parameter name.
  const tags: Record<string, string[]> = Object.create(null);
  const rest: Record<string, string | string[]> = Object.create(null);
  for (const [k, v] of Object.entries(raw)) {
    if (!k.startsWith(TAG_PREFIX)) {
      rest[k] = v;
      continue;
    }
    const key = k.slice(TAG_PREFIX.length);
    if (!TAG_KEY.test(key)) throw invalid(k, `${k}: a tag key is 1-64 characters of A-Z a-z 0-9 _ . : -`, { received: key });
    const values = Array.isArray(v) ? v : [v];
    if (values.length > QUERY_LIMITS.maxFilterValues) throw invalid(k, `${k}: at most ${QUERY_LIMITS.maxFilterValues} values`);
    for (const value of values) {
      if (value.length < 1 || value.length > 256) throw invalid(k, `${k}: a tag value is 1-256 characters`, { received: value });
    }
    tags[k] = values;
  }
  if (Object.keys(tags).length > QUERY_LIMITS.maxTagFilters) {
    throw invalid("tag", `at most ${QUERY_LIMITS.maxTagFilters} different tag.<key> filters`, { received: Object.keys(tags).length });
  }
  return { tags, rest };
}

function invalid(parameter: string, message: string, extra: Record<string, unknown> = {}): ApiError {
  return new ApiError("invalid_parameter", message, { parameter, ...extra });
}

/** One problem with one parameter: its name, why, and what is allowed. */
interface Issue {
  parameter: string;
  message: string;
  [detail: string]: unknown;
}

/** One 400 for every problem found; the first one's details are also at the top level (older clients read those). */
function invalidAll(issues: Issue[]): ApiError {
  const first = issues[0] as Issue;
  return new ApiError("invalid_parameter", issues.map((i) => i.message).join("; "), { ...first, issues });
}

/** The parameters whose own values pass the schema (the others already have a problem listed). */
function validPart(endpoint: Endpoint, raw: Record<string, string | string[]>): Record<string, unknown> {
  const shape = PARAMS[endpoint].shape as Record<string, z.ZodType>;
  // No prototype, and only the schema's own keys: `__proto__=x` must stay an unknown parameter.
  const out: Record<string, unknown> = Object.create(null);
  for (const [k, v] of Object.entries(raw)) {
    const r = Object.hasOwn(shape, k) ? shape[k]?.safeParse(v) : undefined;
    if (r?.success) out[k] = r.data;
  }
  return out;
}

/** A date (`2026-12-01`) is local midnight in `tz`; anything else is an instant with its zone. */
export function resolveInstant(value: string, tz: string): number {
  const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  return d ? startOfLocalDay(tz, Number(d[1]), Number(d[2]), Number(d[3])) : Date.parse(value);
}

/**
 * The default `end`: now snapped down to the minute (the contract), so every
 * default request within one minute has the same `end` and cache key. Events
 * of the current minute are in a query that passes `end` (the dashboard asks
 * for the next minute boundary).
 */
export function defaultEnd(now: number): number {
  return Math.floor(now / 60_000) * 60_000;
}

function fromZod(error: z.ZodError, known: string[]): Issue[] {
  return error.issues.map((i) => {
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
}
