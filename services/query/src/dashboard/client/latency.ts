import type { LatencyResponse, Percentiles } from "./api.js";
import type { Card } from "./card.js";
import { timeChart } from "./charts.js";
import type { ViewContext } from "./context.js";
import { h } from "./dom.js";
import * as f from "./format.js";

type Metric = "ttfb_ms" | "proxy_overhead_ms" | "duration_ms";

const METRICS: { id: Metric; label: string; hint: string }[] = [
  { id: "ttfb_ms", label: "Time to first byte", hint: "until the first token streams back" },
  { id: "proxy_overhead_ms", label: "Proxy overhead", hint: "time the gateway itself adds" },
  { id: "duration_ms", label: "Duration", hint: "request to last byte" },
];

/** p50/p95/p99 lines for the three latency figures, side by side with a shared cursor. */
export function renderLatency(card: Card, data: LatencyResponse, ctx: ViewContext): () => void {
  const xs = data.series.map((p) => Date.parse(p.bucket));
  const colors = ctx.palettes.percentile;
  const disposers: (() => void)[] = [];
  const grid = h("div", { class: "latency-grid" });
  const legend = h(
    "ul",
    { class: "legend" },
    (["p50", "p95", "p99"] as const).map((p) => {
      const sw = h("i", { class: "swatch swatch-line" });
      sw.style.background = colors[p];
      return h("li", {}, sw, p);
    }),
  );
  card.body.replaceChildren(grid, legend);
  for (const m of METRICS) {
    const plot = h("div", { class: "plot" });
    const worst = Math.max(0, ...data.series.map((p) => p[m.id].p95 ?? 0));
    grid.append(
      h(
        "div",
        { class: "latency-cell", "data-metric": m.id },
        h("h3", { title: m.hint }, m.label, h("span", { class: "muted" }, ` · peak p95 ${f.ms(worst)}`)),
        plot,
      ),
    );
    const series = (["p50", "p95", "p99"] as const).map((p) => ({
      label: p,
      color: colors[p],
      values: data.series.map((pt) => (pt[m.id] as Percentiles)[p]),
    }));
    disposers.push(
      timeChart(plot, {
        kind: "lines",
        xs,
        series,
        format: f.ms,
        axisFormat: f.msAxis,
        tz: ctx.state.tz,
        granularity: ctx.range.granularity,
        height: 200,
        syncKey: "latency",
      }),
    );
  }
  card.note.textContent = "percentiles per bucket";
  return () => {
    for (const d of disposers) d();
  };
}

export function isLatencyEmpty(d: LatencyResponse): boolean {
  return d.series.every((p) => p.requests === 0);
}
