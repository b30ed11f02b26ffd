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
