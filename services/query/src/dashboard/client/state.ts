import type { Granularity, GroupBy, Params } from "./api.js";
import { BUCKET_MS, browserZone, isoDate, isValidZone, localMidnight, parseIsoDate, startOfDay, startOfHour, wallTime } from "./time.js";

export type Preset = "24h" | "7d" | "30d" | "90d" | "month" | "custom";
export const PRESETS: { id: Preset; label: string }[] = [
  { id: "24h", label: "24 h" },
  { id: "7d", label: "7 d" },
  { id: "30d", label: "30 d" },
  { id: "90d", label: "90 d" },
  { id: "month", label: "This month" },
  { id: "custom", label: "Custom" },
];
export const GRANULARITIES: Granularity[] = ["hour", "day", "week", "month"];
export const FILTERS = ["project_id", "agent_id", "user_id", "provider", "model", "operation"] as const;
/** A dimension filter, or `tag.<key>` (tag filters, one per tag key). */
export type FilterKey = (typeof FILTERS)[number] | `tag.${string}`;
export const OPERATIONS = ["chat", "completion", "embedding", "image", "audio", "rerank", "other"] as const;
const isFilterKey = (k: string): k is FilterKey => (FILTERS as readonly string[]).includes(k) || /^tag\.[A-Za-z0-9_.:-]{1,64}$/.test(k);
export const GROUPS: { id: GroupBy | "none"; label: string }[] = [
  { id: "provider", label: "Provider" },
  { id: "model", label: "Model" },
  { id: "project_id", label: "Project" },
  { id: "agent_id", label: "Agent" },
  { id: "operation", label: "Operation" },
  { id: "none", label: "None" },
];

/** Everything a view is made of; serialized to the query string so it can be shared. */
export interface ViewState {
  range: Preset;
  /** Custom range, inclusive local dates YYYY-MM-DD. */
  from?: string;
  to?: string;
  /** Only set when the user picked one; otherwise the range's default. */
  gran?: Granularity;
  tz: string;
  /** Each filter's chosen values (any of them); different filters AND. */
  filters: Partial<Record<FilterKey, string[]>>;
  group: GroupBy | "none";
  /** Model table sort, e.g. "cost_usd:desc". */
  sort?: string;
}

export interface ResolvedRange {
  start: number;
  end: number;
  granularity: Granularity;
}

const MAX_BUCKETS = 2000;

export function readState(search: string): ViewState {
  const q = new URLSearchParams(search);
  const range = (PRESETS.some((p) => p.id === q.get("range")) ? q.get("range") : "7d") as Preset;
  const tz = q.get("tz") ?? "";
  const gran = q.get("gran") as Granularity | null;
  const group = q.get("group") as GroupBy | "none" | null;
  const state: ViewState = {
    range,
    tz: tz && isValidZone(tz) ? tz : browserZone(),
    filters: {},
    group: group && (GROUPS.some((g) => g.id === group) || /^tag\.[A-Za-z0-9_.:-]{1,64}$/.test(group)) ? group : "provider",
  };
  if (gran && GRANULARITIES.includes(gran)) state.gran = gran;
  if (range === "custom") {
    const from = q.get("from") ?? "";
    const to = q.get("to") ?? "";
    if (parseIsoDate(from) && parseIsoDate(to) && from <= to) Object.assign(state, { from, to });
    else state.range = "7d";
  }
  for (const f of new Set(q.keys())) {
    const values = [...new Set(q.getAll(f).filter(Boolean))];
    if (isFilterKey(f) && values.length > 0) state.filters[f] = values;
  }
  const sort = q.get("sort");
  if (sort) state.sort = sort;
  return state;
}

export function writeState(s: ViewState): string {
  const q = new URLSearchParams();
  q.set("range", s.range);
  if (s.range === "custom" && s.from && s.to) {
    q.set("from", s.from);
    q.set("to", s.to);
  }
  if (s.gran) q.set("gran", s.gran);
  q.set("tz", s.tz);
  for (const [f, values] of Object.entries(s.filters)) for (const v of values ?? []) q.append(f, v);
  if (s.group !== "provider") q.set("group", s.group);
  if (s.sort) q.set("sort", s.sort);
  return `?${q.toString()}`;
}

/**
 * Turns a view into an API window. Presets end at the next local midnight (or
 * hour, for 24 h) so buckets are whole and the cache key stays the same for a
 * while; "this month" is month to date.
 */
export function resolveRange(s: ViewState, now: number): ResolvedRange {
  let start: number;
  let end: number;
  const tz = s.tz;
  if (s.range === "24h") {
    end = startOfHour(now, tz, 1);
    start = end - 24 * 3_600_000;
  } else if (s.range === "month") {
    const w = wallTime(tz, now);
    start = localMidnight({ y: w.y, m: w.mo, d: 1 }, tz);
    end = startOfDay(now, tz, 1);
  } else if (s.range === "custom" && s.from && s.to) {
    const f = parseIsoDate(s.from);
    const t = parseIsoDate(s.to);
    start = f ? localMidnight(f, tz) : now;
    end = t ? localMidnight({ ...t, d: t.d + 1 }, tz) : now;
  } else {
    const days = s.range === "30d" ? 30 : s.range === "90d" ? 90 : 7;
    end = startOfDay(now, tz, 1);
    start = startOfDay(now, tz, 1 - days);
  }
  return { start, end, granularity: pickGranularity(s.gran, end - start) };
}

/** The user's choice if it fits the API's bucket limit, else the natural one for the span. */
export function pickGranularity(wanted: Granularity | undefined, spanMs: number): Granularity {
  if (wanted && allowedGranularity(wanted, spanMs)) return wanted;
  const days = spanMs / 86_400_000;
  if (days <= 2) return "hour";
  if (days <= 120) return "day";
  if (days <= 730) return "week";
  return "month";
}

export function allowedGranularity(g: Granularity, spanMs: number): boolean {
  const buckets = spanMs / (BUCKET_MS[g] ?? 1);
  return buckets <= MAX_BUCKETS && buckets >= 1;
}

/** The query parameters every analytics call shares. */
export function apiParams(s: ViewState, r: ResolvedRange): Params {
  return {
    start: new Date(r.start).toISOString(),
    end: new Date(r.end).toISOString(),
    granularity: r.granularity,
    tz: s.tz,
    ...s.filters,
  };
}

export function rangeLabel(r: ResolvedRange, tz: string): string {
  const opts: Intl.DateTimeFormatOptions = { timeZone: tz, month: "short", day: "numeric" };
  const withHour = r.granularity === "hour";
  if (withHour) Object.assign(opts, { hour: "numeric", minute: "2-digit" });
  const f = new Intl.DateTimeFormat(undefined, opts);
  // The end is exclusive: show the last included day for day-aligned ranges.
  const last = withHour ? r.end : r.end - 1;
  return `${f.format(r.start)} – ${f.format(last)}`;
}

export { isoDate };
