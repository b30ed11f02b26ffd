/**
 * Which table answers which part of a range: the cheapest one that is still
 * exact (ADR 0001). Rollups are keyed by UTC hour / UTC day, so a rollup can
 * answer a sub-range only when its edges and every bucket boundary inside it
 * fall on that grid; what is left over (edges that are not whole hours, e.g.
 * the default end = now snapped to the minute) is read from raw rows.
 *
 * The hourly rollup is preferred for sums: it has no user_id, and measured on
 * 10 M events (docs/benchmarks.md §3) it is smaller and faster to read than the
 * daily rollup, whose user_id dimension leaves it nearly one row per call. The
 * daily rollup answers what hourly cannot: user_id questions, and history
 * older than the hourly/raw retention (13 months vs 25).
 *
 * The model rollup (llm_usage_model_hourly) is the hourly one without
 * project_id and agent_id, several times fewer rows; it stands in for hourly
 * whenever a question reads only provider, model, operation and error_code
 * (ADR 0001). Every rollup keeps operation (0007); none keeps tags, so a tag
 * filter or tag group_by reads raw rows, narrowed by the tag skip indexes (0006).
 */
export type Source = "raw" | "hourly" | "model_hourly" | "daily" | "tag_hourly";

/** Prefix of a tag dimension: `tag.team` is the tag key `team` (split at the first dot). */
export const TAG_PREFIX = "tag.";

/**
 * A slice of an org's usage: the query filters in one generic shape, shared by
 * every analytics endpoint and by anything else that slices usage (budgets,
 * alerts). Each key is a dimension column (project_id, agent_id, user_id,
 * provider, model, operation) or `tag.<key>`; its values are alternatives (OR);
 * different keys combine with AND. An absent key or an empty list does not
 * filter. Build one with {@link tagFilterKey} for tags; render it with
 * sql.ts `filterSql` (always bound parameters).
 */
export type Filters = Readonly<Record<string, readonly string[] | undefined>>;

/** The filter / group_by name of a tag key. */
export const tagFilterKey = (key: string): string => `${TAG_PREFIX}${key}`;

/** The tag key of a `tag.<key>` name, or null for a dimension column. */
export function tagKeyOf(name: string): string | null {
  return name.startsWith(TAG_PREFIX) ? name.slice(TAG_PREFIX.length) : null;
}

export interface Segment {
  source: Source;
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
}

export interface PlanNeeds {
  /** Reads tags: only raw rows have them (the rollups keep no tags), so raw answers all. */
  tags?: boolean;
  /**
   * Reads one promoted tag key and otherwise only what the tag rollup keeps
   * (provider, model, operation, error_code): llm_usage_tag_hourly answers
   * the whole hours, raw the edges (overrides `tags`).
   */
  tagRollup?: boolean;
  /** Filters, groups or counts by user_id: the hourly rollup has no user_id. */
  user: boolean;
  /**
   * Reads no column beyond org, time, provider, model and error_code (filters,
   * groups and the endpoint's own dimensions): the model rollup can answer
   * the hourly part. Default false.
   */
  modelOnly?: boolean;
  /**
   * From this instant (a UTC midnight) on, raw and the hourly rollup still hold
   * every row; whole days before it are read from the daily rollup. Default: all time.
   */
  hourlyFrom?: number;
}

/** Raw and hourly rows live 13 months (TTL); days older than this many days come from the daily rollup. */
export const HOURLY_RETENTION_DAYS = 390;

/** The `hourlyFrom` for a clock reading: the UTC midnight HOURLY_RETENTION_DAYS ago. */
export function hourlyRetentionStart(now: number): number {
  return floorTo(now - HOURLY_RETENTION_DAYS * 86_400_000, 86_400_000);
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

const floorTo = (ms: number, step: number) => Math.floor(ms / step) * step;
const ceilTo = (ms: number, step: number) => Math.ceil(ms / step) * step;

/** Boundaries off the hour grid that are cut out of rollup reads; beyond this, raw answers all. */
export const MAX_RAW_CUTS = 4;

/**
 * Splits [start, end) into segments by source. `boundaries` are the bucket
 * starts (or the summary's period split); a rollup row must never straddle one,
 * so a boundary off the hour grid cuts the range and the hour around it comes
 * from raw. Many such cuts (hour buckets in a half-hour zone) → raw only.
 */
export function planSegments(start: number, end: number, boundaries: readonly number[], needs: PlanNeeds): Segment[] {
  if (needs.tags && !needs.tagRollup) return [{ source: "raw", from: start, to: end }];
  const inner = boundaries.filter((b) => b > start && b < end);
  // user_id questions can use whole days only (daily rollup): a boundary off the day grid cuts too.
  const grid = needs.user ? DAY_MS : HOUR_MS;
  const cuts = inner.filter((b) => b % grid !== 0);
  if (cuts.length > MAX_RAW_CUTS) return [{ source: "raw", from: start, to: end }];
  // The retention edge is a UTC midnight: it splits pieces without a raw hour around it.
  const retention = needs.hourlyFrom;
  const soft = retention !== undefined && retention > start && retention < end && retention % DAY_MS === 0 ? [retention] : [];
  const edges = [start, ...cuts, ...soft, end].sort((a, b) => a - b);
  const out: Segment[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const from = edges[i] as number;
    const to = edges[i + 1] as number;
    if (from === to) continue;
    const old = retention !== undefined && to <= retention;
    out.push(
      ...planPiece(
        from,
        to,
        inner.filter((b) => b > from && b < to),
        needs,
        old,
      ),
    );
  }
  return mergeAdjacent(out);
}

/** The parts of a request that decide where its sums can be read from. */
export interface SumsQuestion {
  start: number;
  end: number;
  filters: Filters;
  group_by?: string;
  hourly_from: number;
}

/** Dimensions the model rollup keeps (besides org_id and hour). */
export const MODEL_ROLLUP_COLUMNS: ReadonlySet<string> = new Set(["provider", "model", "operation", "error_code"]);

/**
 * Plans a sums-only read (usage, errors, models, agents). `columns` are the
 * dimensions the endpoint itself reads besides the question's filters and
 * group_by (agents: agent_id). A question about users (a user_id filter, or
 * grouping by user) cannot use the hourly rollups, which have no user_id; one
 * that touches only provider, model and error_code reads the model rollup;
 * anything else (project_id, agent_id) the full hourly rollup.
 */
export function planSums(
  q: SumsQuestion,
  boundaries: readonly number[],
  columns: readonly string[],
  tagRollupKeys: ReadonlySet<string> = new Set(),
): Segment[] {
  const filtered = Object.entries(q.filters)
    .filter(([, v]) => v && v.length > 0)
    .map(([k]) => k);
  const used = [...columns, ...filtered, ...(q.group_by ? [q.group_by] : [])];
  const tagKeys = new Set(used.map(tagKeyOf).filter((k): k is string => k !== null));
  const [onlyKey] = tagKeys;
  const tagRollup =
    tagKeys.size === 1 &&
    onlyKey !== undefined &&
    tagRollupKeys.has(onlyKey) &&
    used.every((c) => tagKeyOf(c) !== null || MODEL_ROLLUP_COLUMNS.has(c));
  return planSegments(q.start, q.end, boundaries, {
    tagRollup,
    tags: tagKeys.size > 0,
    user: used.includes("user_id"),
    modelOnly: used.every((c) => MODEL_ROLLUP_COLUMNS.has(c)),
    hourlyFrom: q.hourly_from,
  });
}

/** Plans a piece whose inner boundaries are all whole UTC hours; `old` = before the hourly retention. */
function planPiece(start: number, end: number, inner: readonly number[], needs: PlanNeeds, old: boolean): Segment[] {
  const onDayGrid = inner.every((b) => b % DAY_MS === 0);
  const raw = (from: number, to: number): Segment => ({ source: "raw", from, to });
  const hs = ceilTo(start, HOUR_MS);
  const he = floorTo(end, HOUR_MS);
  // 1. Less than a whole hour: raw.
  if (hs >= he) return [raw(start, end)];
  // The tag rollup has no daily form: its hours (13 months, as raw) answer whatever it answers.
  const dailyOk = !needs.tagRollup && onDayGrid;
  // 2. user_id is only in the daily rollup; if days cannot answer, raw answers all.
  if (needs.user && !dailyOk) return [raw(start, end)];
  const rollup: Source = needs.tagRollup ? "tag_hourly" : needs.modelOnly ? "model_hourly" : "hourly";
  const hourly = (from: number, to: number): Segment => (needs.user ? raw(from, to) : { source: rollup, from, to });
  const out: Segment[] = [raw(start, hs)];
  // 3. Whole UTC days from the daily rollup where it is needed (user_id, old history), hours around them from hourly.
  const ds = ceilTo(hs, DAY_MS);
  const de = floorTo(he, DAY_MS);
  if (dailyOk && (needs.user || old) && ds < de) out.push(hourly(hs, ds), { source: "daily", from: ds, to: de }, hourly(de, he));
  else out.push(hourly(hs, he));
  out.push(raw(he, end));
  return out.filter((s) => s.from < s.to);
}

function mergeAdjacent(segments: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const s of segments) {
    const last = out[out.length - 1];
    if (last && last.source === s.source && last.to === s.from) last.to = s.to;
    else out.push({ ...s });
  }
  return out;
}
