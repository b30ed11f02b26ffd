// Wall-clock arithmetic in an IANA zone with nothing but Intl: enough to put
// range boundaries on local midnights/hours the way the API buckets them.

export interface Wall {
  y: number;
  m: number; // 1-12
  d: number;
  h: number;
}

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

/** The wall-clock fields of an instant in a zone. */
export function wallOf(instant: number, tz: string): Wall & { min: number; s: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(instant))) if (p.type !== "literal") parts[p.type] = Number(p.value);
  return {
    y: parts.year ?? 1970,
    m: parts.month ?? 1,
    d: parts.day ?? 1,
    h: parts.hour ?? 0,
    min: parts.minute ?? 0,
    s: parts.second ?? 0,
  };
}

function offsetAt(instant: number, tz: string): number {
  const w = wallOf(instant, tz);
  return Date.UTC(w.y, w.m - 1, w.d, w.h, w.min, w.s) - Math.floor(instant / 1000) * 1000;
}

/** The instant when the wall clock in `tz` shows y-m-d h:00 (days/months may overflow). */
export function zoned(w: Wall, tz: string): number {
  const guess = Date.UTC(w.y, w.m - 1, w.d, w.h);
  // Two passes settle the offset on both sides of a DST change.
  const first = guess - offsetAt(guess, tz);
  return guess - offsetAt(first, tz);
}

export function startOfDay(instant: number, tz: string, addDays = 0): number {
  const w = wallOf(instant, tz);
  return zoned({ y: w.y, m: w.m, d: w.d + addDays, h: 0 }, tz);
}

export function startOfHour(instant: number, tz: string, addHours = 0): number {
  const w = wallOf(instant, tz);
  return zoned({ y: w.y, m: w.m, d: w.d, h: w.h + addHours }, tz);
}

/** YYYY-MM-DD of an instant in a zone (for date inputs and the URL). */
export function isoDate(instant: number, tz: string): string {
  const w = wallOf(instant, tz);
  return `${w.y}-${String(w.m).padStart(2, "0")}-${String(w.d).padStart(2, "0")}`;
}

export function parseIsoDate(s: string): Wall | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return null;
  return { y: Number(m[1]), m: Number(m[2]), d: Number(m[3]), h: 0 };
}

export function isValidZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export const BUCKET_MS: Record<string, number> = { hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000, month: 30 * 86_400_000 };
