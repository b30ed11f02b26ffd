import type { SummaryFigures, SummaryResponse } from "./api.js";
import { h, svg } from "./dom.js";
import * as f from "./format.js";

type Polarity = "up-bad" | "neutral";

/** Below this many calls in the previous period, changes show "new" / "—" instead of a percentage. */
const MIN_BASELINE_REQUESTS = 10;
/** …or when the current period has more than 20× the previous period's calls. */
const MIN_BASELINE_SHARE = 20;

interface KpiDef {
  id: string;
  label: string;
  value: (s: SummaryFigures) => number | null;
  format: (v: number) => string;
  /** Full-precision text for the tooltip. */
  exact?: (v: number) => string;
  polarity: Polarity;
  /** Rates change in percentage points, counts in percent. */
  points?: boolean;
  sub?: (s: SummaryFigures) => string;
}

export const KPIS: KpiDef[] = [
  {
    id: "cost",
    label: "Cost",
    value: (s) => s.cost_usd,
    format: f.usd,
    polarity: "up-bad",
    sub: (s) => `${f.usd(s.avg_cost_per_request)} per request`,
  },
  { id: "requests", label: "Requests", value: (s) => s.requests, format: f.count, polarity: "neutral" },
  {
    id: "tokens",
    label: "Tokens",
    value: (s) => s.total_tokens,
    format: f.countShort,
    exact: f.count,
    polarity: "neutral",
    sub: (s) => `${f.countShort(s.input_tokens)} in · ${f.countShort(s.output_tokens)} out`,
  },
  {
    id: "error_rate",
    label: "Error rate",
    value: (s) => s.error_rate,
    format: f.ratio,
    polarity: "up-bad",
    points: true,
    sub: (s) => f.plural(s.errors, "error"),
  },
  { id: "p95", label: "p95 latency", value: (s) => s.p95_duration_ms, format: f.ms, polarity: "up-bad", sub: () => "end-to-end duration" },
  { id: "agents", label: "Active agents", value: (s) => s.active_agents, format: f.count, polarity: "neutral" },
  { id: "users", label: "Active users", value: (s) => s.active_users, format: f.count, polarity: "neutral" },
  {
    id: "unpriced",
    label: "Unpriced requests",
    value: (s) => s.unpriced_requests,
    format: f.count,
    polarity: "up-bad",
    sub: (s) => (s.requests > 0 ? `${f.ratio(s.unpriced_requests / s.requests)} of requests` : "no requests"),
  },
];

/** The row of KPI tiles; `render` fills them, `sparkline` adds a trend line to one. */
export class KpiRow {
  readonly el: HTMLElement;
  private readonly tiles = new Map<string, HTMLElement>();

  constructor() {
    this.el = h("section", { class: "kpis", "aria-label": "Key figures" });
    for (const k of KPIS) {
      const tile = h(
        "article",
        { class: "kpi", "data-kpi": k.id, "data-state": "loading" },
        h("div", { class: "kpi-label" }, k.label),
        h("div", { class: "kpi-value" }, "—"),
        h("div", { class: "kpi-foot" }, h("span", { class: "kpi-delta" }), h("span", { class: "kpi-prev" })),
        h("div", { class: "kpi-sub" }),
        h("div", { class: "kpi-spark" }),
      );
      this.tiles.set(k.id, tile);
      this.el.append(tile);
    }
  }

  loading(): void {
    for (const t of this.tiles.values()) t.dataset.state = "loading";
  }

  error(): void {
    for (const t of this.tiles.values()) {
      t.dataset.state = "error";
      (t.querySelector(".kpi-value") as HTMLElement).textContent = "—";
    }
  }

  render(s: SummaryResponse): void {
    // A previous period with a handful of calls (the first days of data) makes any change meaningless (▲ 300,000 %).
    const comparable = s.previous.requests >= MIN_BASELINE_REQUESTS && s.previous.requests * MIN_BASELINE_SHARE >= s.requests;
    for (const k of KPIS) {
      const tile = this.tiles.get(k.id) as HTMLElement;
      const cur = k.value(s);
      const prev = k.value(s.previous);
      const valueEl = tile.querySelector(".kpi-value") as HTMLElement;
      valueEl.textContent = cur === null ? "—" : k.format(cur);
      valueEl.title = cur === null ? "no calls with a duration" : (k.exact ?? k.format)(cur);
      tile.dataset.value = cur === null ? "" : String(cur);
      this.delta(tile, k, cur, comparable ? prev : null, prev);
      const sub = tile.querySelector(".kpi-sub") as HTMLElement;
      sub.textContent = k.sub ? k.sub(s) : "";
      if (k.id === "unpriced" && s.unpriced_requests > 0) sub.append(" · ", unpricedLink());
      tile.dataset.state = "ready";
    }
  }

  /** `prev` null: no comparable baseline; `shown` is still printed ("vs 13") so the reason is visible. */
  private delta(tile: HTMLElement, k: KpiDef, cur: number | null, prev: number | null, shown: number | null): void {
    const el = tile.querySelector(".kpi-delta") as HTMLElement;
    const prevEl = tile.querySelector(".kpi-prev") as HTMLElement;
    prevEl.textContent = shown === null ? "no previous data" : `vs ${k.format(shown)}`;
    let text = cur !== null && cur !== 0 && prev === null ? "new" : prev === null ? "—" : "";
    tile.dataset.baseline = prev === null ? "too-small" : "ok";
    let dir: "up" | "down" | "flat" = "flat";
    if (cur !== null && prev !== null) {
      if (k.points) {
        const pp = (cur - prev) * 100;
        dir = Math.abs(pp) < 0.005 ? "flat" : pp > 0 ? "up" : "down";
        text = `${pp > 0 ? "+" : pp < 0 ? "−" : "±"}${Math.abs(pp).toFixed(2)} pp`;
      } else {
        const c = f.change(cur, prev);
        if (c === null) text = cur === 0 ? "±0%" : "new";
        else {
          dir = Math.abs(c) < 0.0005 ? "flat" : c > 0 ? "up" : "down";
          text = `${c > 0 ? "▲" : c < 0 ? "▼" : ""} ${f.share(Math.abs(c * 100))}`;
        }
      }
    }
    el.textContent = text;
    el.dataset.dir = dir;
    el.dataset.tone = k.polarity === "neutral" || dir === "flat" ? "neutral" : dir === "up" ? "bad" : "good";
    tile.dataset.change = cur !== null && prev !== null ? String(f.change(cur, prev) ?? "") : "";
  }

  /** A tiny trend line under the figure; nulls are gaps. */
  sparkline(id: string, values: (number | null)[]): void {
    const host = this.tiles.get(id)?.querySelector(".kpi-spark");
    if (!host) return;
    const nums = values.filter((v): v is number => v !== null && Number.isFinite(v));
    if (nums.length < 2 || nums.every((v) => v === 0)) {
      host.replaceChildren();
      return;
    }
    const max = Math.max(...nums);
    const min = Math.min(0, ...nums);
    const w = 120;
    const hgt = 28;
    const x = (i: number) => (i / (values.length - 1)) * w;
    const y = (v: number) => hgt - 2 - ((v - min) / (max - min || 1)) * (hgt - 4);
    let d = "";
    let pen = false;
    values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    const s = svg("svg", { viewBox: `0 0 ${w} ${hgt}`, preserveAspectRatio: "none", "aria-hidden": "true" });
    s.append(svg("path", { d, class: "spark-line" }));
    host.replaceChildren(s);
  }
}

/** From the Unpriced tile to the models table, where the unpriced models are tagged. */
function unpricedLink(): HTMLElement {
  return h(
    "a",
    {
      href: "#models",
      class: "kpi-link",
      "data-control": "unpriced-link",
      onclick: (e: Event) => {
        // The fragment carries the token on first load: scroll instead of navigating.
        e.preventDefault();
        const card = document.querySelector('[data-card="models"]');
        card?.scrollIntoView({ behavior: "smooth", block: "start" });
        card?.querySelector<HTMLElement>("[data-unpriced]")?.closest("tr")?.classList.add("flash");
      },
    },
    "which models?",
  );
}
