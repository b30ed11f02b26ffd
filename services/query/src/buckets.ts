/**
 * Calendar buckets in an IANA time zone, DST-correct, as epoch-ms instants.
 * Pure: the route generates the zero-filled series from this and matches the
 * store's bucket starts (ClickHouse toStartOfX(t, tz)) against it.
 */
export const GRANULARITIES = ["hour", "day", "week", "month"] as const;
export type Granularity = (typeof GRANULARITIES)[number];

const HOUR_MS = 3_600_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(tz, f);
  }
  return f;
}

let knownZones: Map<string, string> | undefined;

/**
 * The spelling of an IANA zone that both ICU and ClickHouse load, or null when
 * the runtime does not know it. Case is fixed from the runtime's list; a valid
 * alias the list lacks (ICU lists Asia/Calcutta, not Asia/Kolkata) is kept as given.
 */
export function canonicalTimeZone(tz: string): string | null {
  const known = canonicalZones.get(tz);
  if (known !== undefined) return known;
  const zone = resolveZone(tz);
  // Bounded memo (a client may send any string); only valid zones are kept.
  if (zone !== null && canonicalZones.size < 2_000) canonicalZones.set(tz, zone);
  return zone;
}

const canonicalZones = new Map<string, string>();

function resolveZone(tz: string): string | null {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(tz)) return null;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
  } catch {
    return null;
  }
  knownZones ??= new Map(["UTC", ...Intl.supportedValuesOf("timeZone")].map((z) => [z.toLowerCase(), z]));
  return knownZones.get(tz.toLowerCase()) ?? tz;
}

/** Wall-clock fields of an instant in a zone (month 1-12). */
export interface Wall {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
}

/** Offset via Intl (slow: tens of µs), at a whole second. */
function intlOffset(tz: string, ms: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(ms))) if (p.type !== "literal") parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(parts.year ?? 0, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0);
  return asUtc - ms;
}

/**
 * Offsets memoized per zone and minute: bucket boundaries recur across
 * requests, and Intl is the cost of a 90-day series otherwise. Offsets only
 * change on whole minutes. Bounded: a zone's memo is dropped past 100 k minutes.
 */
const offsets = new Map<string, Map<number, number>>();

/** Offset of the zone from UTC at `ms`, in ms (New York in winter: -5 h). */
export function offsetMs(tz: string, ms: number): number {
  if (tz === "UTC") return 0;
  const minute = Math.floor(ms / 60_000);
  let memo = offsets.get(tz);
  if (!memo) {
    memo = new Map();
    offsets.set(tz, memo);
  }
  let off = memo.get(minute);
  if (off === undefined) {
    if (memo.size >= 100_000) memo.clear();
    off = intlOffset(tz, minute * 60_000);
    memo.set(minute, off);
  }
  return off;
}

/** The wall clock in `tz` at `ms` (shared with the dashboard, which buckets ranges the same way). */
export function wallTime(tz: string, ms: number): Wall {
  const d = new Date(ms + offsetMs(tz, ms));
  return {
    y: d.getUTCFullYear(),
    mo: d.getUTCMonth() + 1,
    d: d.getUTCDate(),
    h: d.getUTCHours(),
    mi: d.getUTCMinutes(),
    s: d.getUTCSeconds(),
  };
}

/**
 * The first instant whose wall time in `tz` is on or after the given local
 * date at midnight. (Where midnight is skipped by DST, the day starts at 01:00.)
 */
export function startOfLocalDay(tz: string, y: number, mo: number, d: number): number {
  const naive = Date.UTC(y, mo - 1, d);
  // Two passes settle the offset on both sides of a transition.
  let guess = naive - offsetMs(tz, naive);
  guess = naive - offsetMs(tz, guess);
  const w = wallTime(tz, guess);
  if (Date.UTC(w.y, w.mo - 1, w.d) < naive) guess += HOUR_MS; // midnight fell in a DST gap
  return guess;
}

/** Start of the bucket containing `ms`. */
export function bucketStart(granularity: Granularity, tz: string, ms: number): number {
  const w = wallTime(tz, ms);
  switch (granularity) {
    case "hour":
      return ms - (((ms % 1000) + 1000) % 1000) - (w.mi * 60 + w.s) * 1000;
    case "day":
      return startOfLocalDay(tz, w.y, w.mo, w.d);
    case "week": {
      // ISO weeks: Monday is day 0.
      const dow = (new Date(Date.UTC(w.y, w.mo - 1, w.d)).getUTCDay() + 6) % 7;
      const monday = new Date(Date.UTC(w.y, w.mo - 1, w.d - dow));
      return startOfLocalDay(tz, monday.getUTCFullYear(), monday.getUTCMonth() + 1, monday.getUTCDate());
    }
    case "month":
      return startOfLocalDay(tz, w.y, w.mo, 1);
  }
}

/** Start of the bucket after the one starting at `start`. */
export function nextBucket(granularity: Granularity, tz: string, start: number): number {
  if (granularity === "hour") {
    // Step an hour, then re-snap: zones whose offset changes by 30 min stay on the hour.
    const next = bucketStart("hour", tz, start + HOUR_MS);
    return next > start ? next : bucketStart("hour", tz, start + 2 * HOUR_MS);
  }
  const w = wallTime(tz, start);
  const step = granularity === "day" ? [0, 1] : granularity === "week" ? [0, 7] : [1, 0];
  const [addMonths, addDays] = step as [number, number];
  // Noon of the target local date: safely inside the day whatever the DST.
  const target = new Date(Date.UTC(w.y, w.mo - 1 + addMonths, w.d + addDays, 12));
  return startOfLocalDay(tz, target.getUTCFullYear(), target.getUTCMonth() + 1, target.getUTCDate());
}

/**
 * Starts of every bucket overlapping [start, end), in order. The first may
 * precede `start` (a partial bucket). Stops after `max` + 1 buckets so a caller
 * can reject ranges that are too long without generating them all.
 */
export function bucketStarts(granularity: Granularity, tz: string, start: number, end: number, max = Number.POSITIVE_INFINITY): number[] {
  const out: number[] = [];
  for (let b = bucketStart(granularity, tz, start); b < end && out.length <= max; b = nextBucket(granularity, tz, b)) out.push(b);
  return out;
}
