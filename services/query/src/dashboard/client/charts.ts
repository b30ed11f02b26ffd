import uPlot from "uplot";
import type { Granularity } from "./api.js";
import { append, h } from "./dom.js";
import { niceAxis } from "./format.js";
import { wallTime } from "./time.js";

export interface SeriesSpec {
  label: string;
  color: string;
  values: (number | null)[];
}

export interface TimeChartSpec {
  kind: "stacked" | "lines";
  /** Bucket starts, ms. */
  xs: number[];
  /** For "stacked", bottom first (the largest group sits on the axis). */
  series: SeriesSpec[];
  format: (v: number) => string;
  /** A y tick label; `top` and `step` of the axis let one unit serve every tick. */
  axisFormat: (v: number, top: number, step: number) => string;
  tz: string;
  granularity: Granularity;
  height: number;
  /** Charts with the same key share the hover position. */
  syncKey?: string;
  /** Values are whole numbers (counts): axis steps are too. */
  integer?: boolean;
  /** Buckets only partly inside the range (today, a week cut by the range): the tooltip says so. */
  partial?: boolean[];
}

/** Draws a time chart into `host`; returns its disposer. */
export function timeChart(host: HTMLElement, spec: TimeChartSpec): () => void {
  const css = getComputedStyle(document.documentElement);
  const axisColor = css.getPropertyValue("--chart-axis").trim() || "#888";
  const gridColor = css.getPropertyValue("--chart-grid").trim() || "#eee";
  const xs = spec.xs.map((t) => t / 1000);
  const step = xs.length > 1 ? ((xs[xs.length - 1] as number) - (xs[0] as number)) / (xs.length - 1) : 3600;
  const stacked = spec.kind === "stacked";

  // Stacking by overdraw: each drawn series is a cumulative sum, the tallest
  // drawn first; the tooltip still reads the raw values from `spec`.
  const drawn = stacked ? cumulative(spec.series).reverse() : spec.series;
  const data: uPlot.AlignedData = [xs, ...drawn.map((s) => s.values)];
  const bars = uPlot.paths.bars!({ size: [0.72, 56], gap: 1 });
  const axis = (values: (v: number, top: number, step: number) => string): uPlot.Axis => ({
    stroke: axisColor,
    grid: { stroke: gridColor, width: 1 },
    ticks: { show: false },
    font: "12px system-ui, sans-serif",
    values: (u, splits) => {
      const top = u.scales.y?.max ?? 1;
      const { step } = niceAxis(top, 4, spec.integer);
      return splits.map((v) => values(v, top, step));
    },
    // Ticks on the nice steps the y range was built from: distinct labels, the top one above the data.
    splits: (u) => {
      const top = u.scales.y?.max ?? 1;
      const { step } = niceAxis(top, 4, spec.integer);
      return Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step);
    },
    size: (_u, values) => (values ? Math.max(...values.map((v) => String(v).length)) * 7 + 20 : 48),
  });

  const opts: uPlot.Options = {
    width: Math.max(200, host.clientWidth),
    height: spec.height,
    // Room on the right for the last tick label of line charts.
    padding: [12, stacked ? 12 : 24, 0, 4],
    legend: { show: false },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), spec.tz),
    scales: {
      x: { time: true, range: (_u, min, max) => (stacked ? [min - step / 2, max + step / 2] : [min, max]) },
      y: { range: (_u, _min, max) => [0, niceAxis(max, 4, spec.integer).max] },
    },
    cursor: {
      points: { show: !stacked, size: 7 },
      drag: { x: false, y: false, setScale: false },
      ...(spec.syncKey ? { sync: { key: spec.syncKey } } : {}),
    },
    axes: [
      {
        stroke: axisColor,
        grid: { show: false },
        ticks: { show: false },
        font: "12px system-ui, sans-serif",
        splits: (u) => tickSplits(xs, spec.granularity, spec.tz, u.width),
        values: (_u, splits) => splits.map((s) => tickLabel(s * 1000, spec.granularity, spec.tz)),
      },
      axis(spec.axisFormat),
    ],
    series: [
      {},
      ...drawn.map(
        (s): uPlot.Series => ({
          label: s.label,
          stroke: s.color,
          width: stacked ? 0 : 2,
          fill: stacked ? s.color : undefined,
          paths: stacked ? bars : undefined,
          // One or two buckets draw no visible line: mark the points.
          points: { show: !stacked && spec.xs.length <= 2, size: 8 },
          spanGaps: false,
        }),
      ),
    ],
    plugins: [tooltip(spec)],
  };
  const chart = new uPlot(opts, data, host);
  const ro = new ResizeObserver(() => {
    if (host.clientWidth > 0 && Math.abs(host.clientWidth - chart.width) > 1)
      chart.setSize({ width: host.clientWidth, height: spec.height });
  });
  ro.observe(host);
  return () => {
    ro.disconnect();
    chart.destroy();
  };
}

/**
 * X ticks on bucket starts only (the API's buckets are aligned to the zone),
 * every k-th one so labels keep ~80 px apart; hourly ticks on round hours.
 */
function tickSplits(xs: number[], g: Granularity, tz: string, width: number): number[] {
  const maxLabels = Math.max(2, Math.floor(width / 80));
  if (g !== "hour") {
    const k = Math.ceil(xs.length / maxLabels);
    return xs.filter((_, i) => i % k === 0);
  }
  const k = [1, 2, 3, 4, 6, 12, 24, 48, 72, 168].find((s) => xs.length / s <= maxLabels) ?? 336;
  if (k < 24) return xs.filter((x) => wallTime(tz, x * 1000).h % k === 0);
  const midnights = xs.filter((x) => wallTime(tz, x * 1000).h === 0);
  return midnights.filter((_, i) => i % (k / 24) === 0);
}

const tickFormats = new Map<string, Intl.DateTimeFormat>();
function tickFormat(kind: "day" | "hour" | "month", tz: string): Intl.DateTimeFormat {
  const key = `${kind}|${tz}`;
  let f = tickFormats.get(key);
  if (!f) {
    const opts: Intl.DateTimeFormatOptions =
      kind === "day" ? { month: "short", day: "numeric" } : kind === "hour" ? { hour: "numeric" } : { month: "short", year: "2-digit" };
    f = new Intl.DateTimeFormat(undefined, { ...opts, timeZone: tz });
    tickFormats.set(key, f);
  }
  return f;
}

function tickLabel(t: number, g: Granularity, tz: string): string {
  if (g === "month") return tickFormat("month", tz).format(t);
  if (g === "hour" && wallTime(tz, t).h !== 0) return tickFormat("hour", tz).format(t);
  return tickFormat("day", tz).format(t);
}

function cumulative(series: SeriesSpec[]): SeriesSpec[] {
  const acc: number[] = [];
  return series.map((s) => ({
    ...s,
    values: s.values.map((v, i) => {
      acc[i] = (acc[i] ?? 0) + (v ?? 0);
      return acc[i] as number;
    }),
  }));
}

const BUCKET_LABEL: Record<Granularity, Intl.DateTimeFormatOptions> = {
  hour: { weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" },
  day: { weekday: "short", month: "short", day: "numeric", year: "numeric" },
  week: { month: "short", day: "numeric", year: "numeric" },
  month: { month: "long", year: "numeric" },
};

/** The hover card: bucket, each series with its swatch, and the total when stacked. */
function tooltip(spec: TimeChartSpec): uPlot.Plugin {
  const fmt = new Intl.DateTimeFormat(undefined, { ...BUCKET_LABEL[spec.granularity], timeZone: spec.tz });
  const tip = h("div", { class: "tip", role: "tooltip" });
  return {
    hooks: {
      init: (u) => {
        u.over.append(tip);
      },
      setCursor: (u) => {
        const idx = u.cursor.idx;
        const left = u.cursor.left ?? -1;
        if (idx === null || idx === undefined || left < 0) {
          tip.classList.remove("on");
          return;
        }
        const t = spec.xs[idx] as number;
        const head = `${spec.granularity === "week" ? `Week of ${fmt.format(t)}` : fmt.format(t)}${spec.partial?.[idx] ? " · partial" : ""}`;
        const rows = spec.series
          .map((s) => ({ s, v: s.values[idx] ?? null }))
          .filter((r) => spec.kind === "lines" || (r.v ?? 0) !== 0)
          .reverse();
        const total = rows.reduce((a, r) => a + (r.v ?? 0), 0);
        tip.replaceChildren();
        append(tip, [
          h("div", { class: "tip-head" }, head),
          ...rows.map((r) =>
            h(
              "div",
              { class: "tip-row" },
              swatch(r.s.color),
              h("span", { class: "tip-label" }, r.s.label),
              h("b", {}, r.v === null ? "–" : spec.format(r.v)),
            ),
          ),
          spec.kind === "stacked" && spec.series.length > 1
            ? h("div", { class: "tip-row tip-total" }, h("span", { class: "tip-label" }, "Total"), h("b", {}, spec.format(total)))
            : null,
          spec.kind === "stacked" && rows.length === 0 ? h("div", { class: "tip-row" }, "No data") : null,
        ]);
        tip.classList.add("on");
        const w = tip.offsetWidth;
        const x = left + 16 + w > u.over.clientWidth ? left - 16 - w : left + 16;
        const y = Math.min(Math.max(0, (u.cursor.top ?? 0) - tip.offsetHeight / 2), Math.max(0, u.over.clientHeight - tip.offsetHeight));
        tip.style.transform = `translate(${Math.max(0, x)}px, ${y}px)`;
      },
    },
  };
}

export function swatch(color: string): HTMLElement {
  const el = h("i", { class: "swatch" });
  el.style.background = color;
  return el;
}
