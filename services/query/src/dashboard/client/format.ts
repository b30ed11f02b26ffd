// Number formatting used by tiles, axes, tooltips and tables (browser locale).

const usd2 = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const usd4 = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", minimumFractionDigits: 4, maximumFractionDigits: 4 });
const usdCompact = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1 });
const int = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
const pct1 = new Intl.NumberFormat(undefined, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
const pct2 = new Intl.NumberFormat(undefined, { style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** Dollars with cents; sub-cent amounts keep 4 decimals so they do not read as $0.00. */
export function usd(v: number): string {
  return v !== 0 && Math.abs(v) < 0.01 ? usd4.format(v) : usd2.format(v);
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
export function share(pct: number): string {
  return `${pct.toFixed(1)} %`;
}
export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (v < 1000) return `${Math.round(v)} ms`;
  return `${(v / 1000).toFixed(v < 10_000 ? 2 : 1)} s`;
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
