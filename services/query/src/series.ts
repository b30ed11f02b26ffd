import type { CsvTable } from "./endpoint.js";
import { iso } from "./params.js";

/**
 * One element per bucket start, in order, filled from rows keyed by bucket
 * (epoch seconds from ClickHouse). A row whose bucket is not a generated start
 * would mean JS and ClickHouse disagree on a boundary; it throws so tests catch it.
 */
export function zeroFill<R extends { bucket: number }, T>(
  buckets: readonly number[],
  rows: readonly R[],
  empty: () => T,
  add: (acc: T, row: R) => void,
): (T & { bucket: string })[] {
  const index = new Map(buckets.map((b, i) => [b, i]));
  const acc = buckets.map(() => empty());
  for (const row of rows) {
    const i = index.get(Number(row.bucket) * 1000);
    if (i === undefined) throw new Error(`bucket ${iso(Number(row.bucket) * 1000)} is not a generated bucket start`);
    add(acc[i] as T, row);
  }
  return acc.map((a, i) => ({ bucket: iso(buckets[i] as number), ...a }));
}

/** Groups rows by a key, keeping first-seen order. */
export function groupRows<R>(rows: readonly R[], key: (r: R) => string): Map<string, R[]> {
  const out = new Map<string, R[]>();
  for (const r of rows) {
    const k = key(r);
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}

/** A series with its totals, as usage and errors answer it overall and per group. */
export interface SeriesOf<P, T> {
  series: P[];
  totals: T;
}

/** Group key of the groups past `limit`, summed into one (DESIGN.md "Query dimensions v1.1"). */
export const OTHER_GROUP = "(other)";

/**
 * group_by answers: rows split by their `grp` column, each group zero-filled by
 * `seriesOf`, ranked by `rank` (descending; ties by key), the first `limit`
 * kept and the rest summed into one "(other)" group from their rows, so group
 * totals always add up to the ungrouped totals (sums are exact: money.ts).
 */
export function topGroups<R extends { grp?: unknown }, P, T>(
  rows: readonly R[],
  seriesOf: (rows: R[]) => SeriesOf<P, T>,
  rank: (totals: T) => bigint | number,
  limit: number,
): (SeriesOf<P, T> & { key: string })[] {
  const grouped = [...groupRows(rows, (r) => String(r.grp ?? "")).entries()].map(([key, list]) => ({ key, list, ...seriesOf(list) }));
  grouped.sort((a, b) => {
    const ra = rank(a.totals);
    const rb = rank(b.totals);
    return ra > rb ? -1 : ra < rb ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  });
  const out = grouped.slice(0, limit).map(({ list: _rows, ...g }) => g);
  const rest = grouped.slice(limit);
  if (rest.length > 0) out.push({ key: OTHER_GROUP, ...seriesOf(rest.flatMap((g) => g.list)) });
  return out;
}

/** CSV of a series answer: one row per bucket, or per group and bucket (`group` first) when grouped. */
export function seriesCsv(r: { series: object[]; groups?: { key: string; series: object[] }[] | undefined }): CsvTable {
  const rows = r.groups ? r.groups.flatMap((g) => g.series.map((p) => ({ group: g.key, ...p }))) : r.series;
  return tableOf(rows as Record<string, unknown>[]);
}

/** Flattens nested objects into dotted columns (`ttfb_ms.p95`, `by_code.rate_limit`). */
export function flatten(obj: Record<string, unknown>, prefix = "", out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v)) flatten(v as Record<string, unknown>, name, out);
    else out[name] = v;
  }
  return out;
}

/** A CSV table from flattened rows; columns are the union in first-seen order, gaps stay empty. */
export function tableOf(rows: Record<string, unknown>[]): CsvTable {
  const flat = rows.map((r) => flatten(r));
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const r of flat) for (const k of Object.keys(r)) if (!seen.has(k)) seen.add(k) && columns.push(k);
  return { columns, rows: flat };
}
