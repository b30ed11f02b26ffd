import type { ModelRow, ModelsResponse } from "./api.js";
import type { Card } from "./card.js";
import { swatch } from "./charts.js";
import type { ViewContext } from "./context.js";
import { h } from "./dom.js";
import * as f from "./format.js";
import { type Column, meter, parseSort, sortableTable } from "./table.js";

const BARS = 10;

/**
 * A model the pricing did not know: counted unpriced by the API (v1.1 rows
 * carry unpriced_requests), or, from a v1 server, tokens with a cost of 0.
 */
export function isUnpriced(m: ModelRow): boolean {
  return m.unpriced_requests !== undefined ? m.unpriced_requests > 0 : m.cost_usd === 0 && m.total_tokens > 0;
}

/** Cost per model as bars, and every model in a sortable table with its share of cost. */
export function renderModels(card: Card, data: ModelsResponse, ctx: ViewContext): () => void {
  const models = data.models;
  const maxCost = Math.max(0, ...models.map((m) => m.cost_usd));
  const color = (m: ModelRow) => ctx.palettes.model.get(m.model);
  const bars = h(
    "ol",
    { class: "bars", "aria-label": "Cost by model" },
    models.slice(0, BARS).map((m) => {
      const fill = h("span", { class: "bar-fill" });
      fill.style.width = `${maxCost > 0 ? (m.cost_usd / maxCost) * 100 : 0}%`;
      fill.style.background = color(m);
      return h(
        "li",
        { class: "bar", title: `${m.provider} / ${m.model}: ${f.usd(m.cost_usd)} (${f.share(m.cost_share_pct)})` },
        h("span", { class: "bar-label" }, m.model),
        h("span", { class: "bar-track" }, fill),
        h("span", { class: "bar-value" }, isUnpriced(m) && m.cost_usd === 0 ? "unpriced" : f.usdShort(m.cost_usd)),
      );
    }),
  );
  const columns: Column<ModelRow>[] = [
    {
      key: "model",
      label: "Model",
      value: (m) => m.model,
      cell: (m) =>
        h(
          "span",
          { class: "model-cell" },
          swatch(color(m)),
          h("span", {}, m.model),
          h("span", { class: "tag" }, m.provider),
          isUnpriced(m)
            ? h(
                "span",
                {
                  class: "tag tag-warn",
                  "data-unpriced": "1",
                  title: "No price known for this model: its cost counts as $0 until re-priced",
                },
                "unpriced",
              )
            : null,
        ),
    },
    { key: "requests", label: "Requests", num: true, value: (m) => m.requests, cell: (m) => f.count(m.requests) },
    { key: "input_tokens", label: "Input", num: true, value: (m) => m.input_tokens, cell: (m) => f.countShort(m.input_tokens) },
    { key: "output_tokens", label: "Output", num: true, value: (m) => m.output_tokens, cell: (m) => f.countShort(m.output_tokens) },
    { key: "total_tokens", label: "Tokens", num: true, value: (m) => m.total_tokens, cell: (m) => f.countShort(m.total_tokens) },
    {
      key: "cost_usd",
      label: "Cost",
      num: true,
      value: (m) => m.cost_usd,
      cell: (m) => (isUnpriced(m) && m.cost_usd === 0 ? h("span", { class: "muted" }, "unpriced") : f.usd(m.cost_usd)),
    },
    {
      key: "cost_share_pct",
      label: "Share of cost",
      num: true,
      value: (m) => m.cost_share_pct,
      cell: (m) => meter(m.cost_share_pct / 100, color(m), f.share(m.cost_share_pct)),
    },
  ];
  const table = sortableTable({
    rows: models,
    columns,
    sort: parseSort(ctx.state.sort, { key: "cost_usd", dir: "desc" }),
    onSort: (s) => ctx.setSort(`${s.key}:${s.dir}`),
    onRow: (m) => ctx.setFilter("model", m.model),
    rowTitle: "Filter the dashboard by this model",
    caption: "Models by cost",
  });
  card.note.textContent = `${models.length} model${models.length === 1 ? "" : "s"}`;
  card.body.replaceChildren(h("div", { class: "models" }, bars, h("div", { class: "table-wrap" }, table)));
  return () => undefined;
}

export function isModelsEmpty(d: ModelsResponse): boolean {
  return d.models.length === 0;
}
