import type { UsagePoint, UsageResponse, UsageTotals } from "./api.js";
import type { Card } from "./card.js";
import { type SeriesSpec, timeChart } from "./charts.js";
import { OTHER_COLOR } from "./colors.js";
import { colorFor, type ViewContext } from "./context.js";
import * as f from "./format.js";
import { GROUPS, type ResolvedRange } from "./state.js";
import { nextBucket } from "./time.js";

/** More groups than this are folded into "Other" so the stack stays readable. */
const MAX_GROUPS = 7;

type Metric = "cost_usd" | "total_tokens";

export function renderCostTrend(card: Card, data: UsageResponse, ctx: ViewContext): () => void {
  card.note.textContent = `${f.usd(data.totals.cost_usd)} total`;
  return renderStack(card, data, ctx, "cost_usd", f.usd, f.usdShort, [
    { label: "Cost", color: "var", values: data.series.map((p) => p.cost_usd) },
  ]);
}

export function renderTokenTrend(card: Card, data: UsageResponse, ctx: ViewContext): () => void {
  card.note.textContent = `${f.countShort(data.totals.total_tokens)} total`;
  // Ungrouped, the stack shows what the tokens were: fresh input, cache reads, output.
  const byKind: SeriesSpec[] = [
    { label: "Input (uncached)", color: "#4269d0", values: data.series.map((p) => Math.max(0, p.input_tokens - p.cached_input_tokens)) },
    { label: "Cached input", color: "#97bbf5", values: data.series.map((p) => p.cached_input_tokens) },
    { label: "Output", color: "#efb118", values: data.series.map((p) => p.output_tokens) },
  ];
  return renderStack(card, data, ctx, "total_tokens", f.count, f.countShort, byKind);
}

function renderStack(
  card: Card,
  data: UsageResponse,
  ctx: ViewContext,
  metric: Metric,
  format: (v: number) => string,
  axisFormat: (v: number) => string,
  ungrouped: SeriesSpec[],
): () => void {
  const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim();
  const series =
    ctx.state.group !== "none" && data.groups
      ? groupSeries(data, ctx, metric)
      : ungrouped.map((s) => ({ ...s, color: s.color === "var" ? accent : s.color }));
  const legend = legendOf(series, ctx.state.group);
  const plot = document.createElement("div");
  plot.className = "plot";
  card.body.replaceChildren(plot, legend);
  return timeChart(plot, {
    kind: "stacked",
    xs: data.series.map((p) => Date.parse(p.bucket)),
    series,
    format,
    axisFormat,
    tz: ctx.state.tz,
    granularity: ctx.range.granularity,
    height: 260,
    syncKey: "trend",
    integer: metric === "total_tokens",
    partial: partialBuckets(
      data.series.map((p) => Date.parse(p.bucket)),
      ctx.range,
      ctx.state.tz,
      Date.now(),
    ),
  });
}

function groupSeries(data: UsageResponse, ctx: ViewContext, metric: Metric): SeriesSpec[] {
  // One order (and so one stacking and one "Other") for every chart: by cost, then key, whatever the metric drawn.
  const groups = [...(data.groups ?? [])].sort((a, b) => b.totals.cost_usd - a.totals.cost_usd || a.key.localeCompare(b.key));
  const shown = groups.slice(0, MAX_GROUPS);
  const rest = groups.slice(MAX_GROUPS);
  const out: SeriesSpec[] = shown.map((g) => ({
    label: g.key === "" ? "(none)" : g.key,
    color: colorFor(ctx, ctx.state.group, g.key),
    values: g.series.map((p) => p[metric]),
  }));
  if (rest.length > 0) {
    out.push({
      label: `Other (${rest.length})`,
      color: OTHER_COLOR,
      values: data.series.map((_, i) => rest.reduce((a, g) => a + ((g.series[i] as UsagePoint | undefined)?.[metric] ?? 0), 0)),
    });
  }
  return out;
}

function legendOf(series: SeriesSpec[], group: string): HTMLElement {
  const el = document.createElement("ul");
  el.className = "legend";
  el.setAttribute("aria-label", `Stacked by ${GROUPS.find((g) => g.id === group)?.label ?? group}`);
  for (const s of series) {
    const li = document.createElement("li");
    const sw = document.createElement("i");
    sw.className = "swatch";
    sw.style.background = s.color;
    li.append(sw, s.label);
    el.append(li);
  }
  return el;
}

export function isUsageEmpty(d: UsageResponse | { totals: UsageTotals }): boolean {
  return d.totals.requests === 0;
}

/**
 * Buckets not wholly inside the range, or still running: the first one when
 * the range starts inside it, the last one when the range or the clock ends
 * inside it (today, the current week).
 */
export function partialBuckets(starts: number[], range: ResolvedRange, tz: string, now: number): boolean[] {
  return starts.map((b, i) => {
    const end = starts[i + 1] ?? nextBucket(range.granularity, tz, b);
    return b < range.start || end > range.end || end > now;
  });
}
