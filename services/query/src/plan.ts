/**
 * Which table answers which part of a range: the cheapest one that is still
 * exact (ADR 0001). Rollups are keyed by UTC hour / UTC day, so a rollup can
 * answer a sub-range only when its edges and every bucket boundary inside it
 * fall on that grid; what is left over (edges that are not whole hours, e.g.
 * the default end = now snapped to the minute) is read from raw rows.
 */
export type Source = "raw" | "hourly" | "daily";

export interface Segment {
  source: Source;
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
}

export interface PlanNeeds {
  /** Filters, groups or counts by user_id: the hourly rollup has no user_id. */
  user: boolean;
  /** Latency sketches: only the hourly rollup has them. */
  latency: boolean;
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
  const inner = boundaries.filter((b) => b > start && b < end);
  const cuts = inner.filter((b) => b % HOUR_MS !== 0);
  if (cuts.length > MAX_RAW_CUTS) return [{ source: "raw", from: start, to: end }];
  const edges = [start, ...cuts, end];
  const out: Segment[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const from = edges[i] as number;
    const to = edges[i + 1] as number;
    out.push(
      ...planPiece(
        from,
        to,
        inner.filter((b) => b > from && b < to),
        needs,
      ),
    );
  }
  return mergeAdjacent(out);
}

/** Plans a piece whose inner boundaries are all whole UTC hours. */
function planPiece(start: number, end: number, inner: readonly number[], needs: PlanNeeds): Segment[] {
  const onDayGrid = inner.every((b) => b % DAY_MS === 0);
  const raw = (from: number, to: number): Segment => ({ source: "raw", from, to });
  const hs = ceilTo(start, HOUR_MS);
  const he = floorTo(end, HOUR_MS);
  // 1. Less than a whole hour: raw.
  if (hs >= he) return [raw(start, end)];
  const dailyOk = !needs.latency && onDayGrid;
  // 2. user_id is only in the daily rollup; if days cannot answer, raw answers all.
  if (needs.user && !dailyOk) return [raw(start, end)];
  const hourly = (from: number, to: number): Segment => (needs.user ? raw(from, to) : { source: "hourly", from, to });
  const out: Segment[] = [raw(start, hs)];
  // 3. Whole UTC days from the daily rollup, the hours around them from the hourly one.
  const ds = ceilTo(hs, DAY_MS);
  const de = floorTo(he, DAY_MS);
  if (dailyOk && ds < de) out.push(hourly(hs, ds), { source: "daily", from: ds, to: de }, hourly(de, he));
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
