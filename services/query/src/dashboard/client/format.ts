// Number formatting used by tiles, axes, tooltips and tables (browser locale).

const usd2 = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const usdCompact = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1 });
const int = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
const pct1 = new Intl.NumberFormat(undefined, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
const pct2 = new Intl.NumberFormat(undefined, { style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 });

const usdSmall = new Map<number, Intl.NumberFormat>();
/**
 * Dollars with cents; under 10 cents, three significant digits ($0.0101,
 * $0.000045), so a non-zero amount never reads as $0.00 or $0.0000.
 */
export function usd(v: number): string {
  if (v === 0 || Math.abs(v) >= 0.1) return usd2.format(v);
  const decimals = Math.min(12, Math.max(2, 2 - Math.floor(Math.log10(Math.abs(v)))));
  let fmt = usdSmall.get(decimals);
  if (!fmt) {
    fmt = new Intl.NumberFormat(undefined, {
      style: "currency",
      currency: "USD",
      minimumFractionDigits: 2,
      maximumFractionDigits: decimals,
    });
    usdSmall.set(decimals, fmt);
  }
  return fmt.format(v);
}
/** "1 error", "2 errors", "1,204 errors". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${int.format(n)} ${n === 1 ? one : many}`;
}
/** An amount of a budget's metric: money for cost_usd, a count for tokens and requests. */
export function metricAmount(metric: string, v: number): string {
  return metric === "cost_usd" ? usd(v) : count(v);
}

export function usdShort(v: number): string {
  return Math.abs(v) < 1000 ? usd(v) : usdCompact.format(v);
}
export function count(v: number): string {
  return int.format(v);
}
export function countShort(v: number): string {
  return Math.abs(v) < 10_000 ? int.format(v) : compact.format(v);
}
/** A ratio (0.0123) as a percentage. */
export function ratio(v: number): string {
  return v < 0.1 ? pct2.format(v) : pct1.format(v);
}
/** A share given in percent (42.9): the same style as ratio(). */
export function share(pct: number): string {
  return pct1.format(pct / 100);
}

/**
 * A "nice" axis: the step (1, 2, 2.5 or 5 × 10^k; whole numbers for counts)
 * that shows `max` in at most `ticks` steps, so labels are distinct and the
 * top of the axis sits just above the data.
 */
export function niceAxis(max: number, ticks = 4, integer = false): { step: number; max: number } {
  if (!(max > 0)) return { step: 1, max: 1 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = ([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag) as number;
  if (integer) step = Math.max(1, Math.ceil(step));
  return { step, max: Number((Math.ceil(max / step - 1e-9) * step).toPrecision(12)) };
}
export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (v < 1000) return `${Math.round(v)} ms`;
  return `${(v / 1000).toFixed(v < 10_000 ? 2 : 1)} s`;
}

/**
 * A latency axis label in ONE unit for the whole axis (ms below a 1 s top,
 * else s), with as many decimals as the step needs: never "0 ms, 2.50 s".
 */
export function msAxis(v: number, top: number, step: number): string {
  if (top < 1000) return `${Math.round(v)} ms`;
  // The fewest decimals that show the step (2.5 s → 1), the same on every tick.
  const seconds = step / 1000;
  const decimals = [0, 1, 2, 3].find((d) => Math.abs(Math.round(seconds * 10 ** d) - seconds * 10 ** d) < 1e-6) ?? 3;
  return `${(v / 1000).toFixed(decimals)} s`;
}

/** Relative change, or null when the previous value is 0 (no meaningful percentage). */
export function change(current: number, previous: number): number | null {
  if (!Number.isFinite(previous) || previous === 0) return null;
  return (current - previous) / previous;
}

export function ago(iso: string, now: number): string {
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (s < 90) return "just now";
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129_600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}
