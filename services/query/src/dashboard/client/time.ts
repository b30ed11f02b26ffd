// Wall-clock arithmetic in an IANA zone: the API's own bucket code (pure, Intl
// only), so the page puts range boundaries exactly where the API buckets them.
import { bucketStart, canonicalTimeZone, nextBucket, startOfLocalDay, wallTime } from "../../buckets.js";

export { nextBucket, type Wall, wallTime } from "../../buckets.js";

/** A calendar date (month 1-12); days may overflow (Jan 32 = Feb 1). */
export interface LocalDate {
  y: number;
  m: number;
  d: number;
}

/** The instant the date starts in the zone (01:00 where DST skips midnight). */
export function localMidnight(date: LocalDate, tz: string): number {
  return startOfLocalDay(tz, date.y, date.m, date.d);
}

export function startOfDay(instant: number, tz: string, addDays = 0): number {
  const w = wallTime(tz, instant);
  return startOfLocalDay(tz, w.y, w.mo, w.d + addDays);
}

export function startOfHour(instant: number, tz: string, addHours = 0): number {
  let start = bucketStart("hour", tz, instant);
  for (let i = 0; i < addHours; i++) start = nextBucket("hour", tz, start);
  return start;
}

/** YYYY-MM-DD of an instant in a zone (for date inputs and the URL). */
export function isoDate(instant: number, tz: string): string {
  const w = wallTime(tz, instant);
  return `${w.y}-${String(w.mo).padStart(2, "0")}-${String(w.d).padStart(2, "0")}`;
}

export function parseIsoDate(s: string): LocalDate | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return null;
  return { y: Number(m[1]), m: Number(m[2]), d: Number(m[3]) };
}

/** A zone the API accepts (the page keeps no other in its URL state). */
export function isValidZone(tz: string): boolean {
  return canonicalTimeZone(tz) !== null;
}

export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export const BUCKET_MS: Record<string, number> = { hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000, month: 30 * 86_400_000 };
