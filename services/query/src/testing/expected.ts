import type { GenEvent } from "./fixture.js";

/**
 * Independent answers for the tests: buckets come from Intl wall-clock labels
 * (not from buckets.ts), aggregates from plain loops over the generated events.
 */
const fmts = new Map<string, Intl.DateTimeFormat>();
function parts(tz: string, ms: number): Record<string, string> {
  let f = fmts.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      timeZoneName: "longOffset",
    });
    fmts.set(tz, f);
  }
  return Object.fromEntries(f.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
}

const labels = new Map<string, string>();

/** The label of the bucket holding `ms`: equal labels ⇔ same bucket. Memoized per minute (zones change on whole minutes). */
export function bucketLabel(granularity: string, tz: string, ms: number): string {
  const key = `${granularity}|${tz}|${Math.floor(ms / 60_000)}`;
  let label = labels.get(key);
  if (label === undefined) {
    label = computeLabel(granularity, tz, Math.floor(ms / 60_000) * 60_000);
    labels.set(key, label);
  }
  return label;
}

function computeLabel(granularity: string, tz: string, ms: number): string {
  const p = parts(tz, ms);
  switch (granularity) {
    case "hour":
      return `${p.year}-${p.month}-${p.day} ${p.hour} ${p.timeZoneName}`;
    case "day":
      return `${p.year}-${p.month}-${p.day}`;
    case "week": {
      const d = new Date(Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day)));
      d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
      return `W ${d.toISOString().slice(0, 10)}`;
    }
    default:
      return `${p.year}-${p.month}`;
  }
}

/** Labels of every bucket overlapping [start, end), in order (sampled every 15 minutes: no zone has finer boundaries). */
export function bucketLabels(granularity: string, tz: string, start: number, end: number): string[] {
  const out: string[] = [];
  const step = 15 * 60_000;
  for (let t = start; t < end; t = t === start ? Math.ceil((start + 1) / step) * step : t + step) {
    const l = bucketLabel(granularity, tz, t);
    if (out[out.length - 1] !== l) out.push(l);
  }
  return out;
}

export interface Filter {
  project_id?: string;
  model?: string;
  user_id?: string;
  agent_id?: string;
  provider?: string;
}

export function select(events: readonly GenEvent[], org: string, start: number, end: number, f: Filter = {}): GenEvent[] {
  return events.filter(
    (e) =>
      e.org_id === org &&
      e.event_time_ms >= start &&
      e.event_time_ms < end &&
      Object.entries(f).every(([k, v]) => (e as unknown as Record<string, unknown>)[k] === v),
  );
}

export const isErr = (e: GenEvent) => e.status_code >= 400 || e.error_code !== "";

export function sums(events: readonly GenEvent[]) {
  const s = {
    requests: 0,
    errors: 0,
    input_tokens: 0,
    output_tokens: 0,
    cached_input_tokens: 0,
    reasoning_tokens: 0,
    total_tokens: 0,
    cost_usd: 0,
    unpriced: 0,
  };
  for (const e of events) {
    s.requests++;
    if (isErr(e)) s.errors++;
    s.input_tokens += e.input_tokens;
    s.output_tokens += e.output_tokens;
    s.cached_input_tokens += e.cached_input_tokens;
    s.reasoning_tokens += e.reasoning_tokens;
    s.total_tokens += e.input_tokens + e.output_tokens;
    s.cost_usd += e.cost;
    if (e.cost_source === "unpriced") s.unpriced++;
  }
  return s;
}

export function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const l = m.get(k);
    if (l) l.push(x);
    else m.set(k, [x]);
  }
  return m;
}

/** Cost equal to 6 decimals (the API rounds), else within 1e-6 relative. */
export function costClose(actual: number, expected: number): boolean {
  return Math.abs(actual - expected) <= Math.max(1e-6 * Math.abs(expected), 5.1e-7);
}

/**
 * `v` is within 1 % rank error of the q-quantile of `values`: it lies between
 * the order statistics at ranks q - 0.01 and q + 0.01 (float32 sketch slack).
 */
export function rankClose(values: readonly number[], q: number, v: number | null | undefined): boolean {
  if (values.length === 0) return v === null;
  if (typeof v !== "number") return false;
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  const lo = s[Math.floor(Math.max(0, q - 0.01) * (n - 1))] as number;
  const hi = s[Math.ceil(Math.min(1, q + 0.01) * (n - 1))] as number;
  const eps = 1e-3 * Math.max(1, Math.abs(hi));
  return v >= lo - eps && v <= hi + eps;
}
