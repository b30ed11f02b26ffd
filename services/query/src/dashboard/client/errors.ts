import type { ErrorsResponse } from "./api.js";
import type { Card } from "./card.js";
import { type SeriesSpec, swatch, timeChart } from "./charts.js";
import { OTHER_COLOR } from "./colors.js";
import type { ViewContext } from "./context.js";
import { h } from "./dom.js";
import * as f from "./format.js";

const MAX_CODES = 6;

/** Errors per bucket stacked by error code, with the totals per code beside. */
export function renderErrors(card: Card, data: ErrorsResponse, ctx: ViewContext): () => void {
  const codes = Object.entries(data.totals.by_code).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = codes.slice(0, MAX_CODES).map(([c]) => c);
  const rest = codes.slice(MAX_CODES).map(([c]) => c);
  const series: SeriesSpec[] = shown.map((code) => ({
    label: code || "(no code)",
    color: ctx.palettes.error.get(code),
    values: data.series.map((p) => p.by_code[code] ?? 0),
  }));
  if (rest.length > 0)
    series.push({ label: "Other", color: OTHER_COLOR, values: data.series.map((p) => rest.reduce((a, c) => a + (p.by_code[c] ?? 0), 0)) });
  card.note.textContent = `${f.count(data.totals.errors)} errors · ${f.ratio(data.totals.error_rate)} of requests`;

  const plot = h("div", { class: "plot" });
  const table = h(
    "table",
    { class: "mini-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Code"), h("th", { class: "num" }, "Errors"), h("th", { class: "num" }, "Share"))),
    h(
      "tbody",
      {},
      codes.map(([code, n]) =>
        h(
          "tr",
          {},
          h("td", {}, swatch(shown.includes(code) ? ctx.palettes.error.get(code) : OTHER_COLOR), h("code", {}, code || "(no code)")),
          h("td", { class: "num" }, f.count(n)),
          h("td", { class: "num" }, data.totals.errors > 0 ? f.ratio(n / data.totals.errors) : "–"),
        ),
      ),
    ),
  );
  card.body.replaceChildren(h("div", { class: "split" }, plot, h("div", { class: "split-side" }, table)));
  return timeChart(plot, {
    kind: "stacked",
    xs: data.series.map((p) => Date.parse(p.bucket)),
    series,
    format: f.count,
    axisFormat: f.countShort,
    tz: ctx.state.tz,
    granularity: ctx.range.granularity,
    height: 240,
  });
}

export function isErrorsEmpty(d: ErrorsResponse): boolean {
  return d.totals.errors === 0;
}
