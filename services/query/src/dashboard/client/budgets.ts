import { Card } from "./card.js";
import { h } from "./dom.js";
import * as f from "./format.js";
import type { BudgetState, UserBudgets } from "./user-budgets.js";

// The Budgets panel (each budget's bar: spent, limit, forecast marker, resets-at;
// click a budget for its per-group table) and the alert history. Reads
// /v1/budgets, /v1/budgets/{id}/status and /v1/alerts/events.

interface Figures {
  spent: number;
  remaining: number;
  pct: number;
  forecast: number;
  state: BudgetState;
}
interface Status extends Figures {
  id: string;
  metric: string;
  limit: number;
  resets_at: string | null;
  groups: (Figures & { key: string })[];
}
interface BudgetDef {
  id: string;
  name: string;
  enforcement: string;
  per: string | null;
}
interface AlertEvent {
  id: string;
  type: string;
  key: string;
  occurred_at: string;
  data: Record<string, unknown>;
}

async function getJson<T>(path: string, token: string): Promise<T> {
  const res = await fetch(new URL(path, document.baseURI), { headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
  return (await res.json()) as T;
}

/** A bar of spent against the limit, with the forecast as a marker (both capped at 120 % of the limit). */
function bar(metric: string, limit: number, fig: Figures): HTMLElement {
  const scale = (x: number) => `${Math.min(100, (x / (limit * 1.2)) * 100)}%`;
  const fill = h("span", { class: `budget-fill budget-${fig.state}` });
  fill.style.width = scale(fig.spent);
  const marker = h("span", { class: "budget-forecast", title: `Forecast at window end: ${f.metricAmount(metric, fig.forecast)}` });
  marker.style.left = scale(fig.forecast);
  const limitLine = h("span", { class: "budget-limit", title: `Limit: ${f.metricAmount(metric, limit)}` });
  limitLine.style.left = scale(limit);
  return h("span", { class: "budget-bar", role: "img", "aria-label": `${fig.pct}% of the limit` }, fill, limitLine, marker);
}

function groupTable(s: Status): HTMLElement {
  return h(
    "table",
    { class: "table budget-groups" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "Key"),
        h("th", { class: "num" }, "Spent"),
        h("th", { class: "num" }, "%"),
        h("th", {}, ""),
        h("th", {}, "State"),
      ),
    ),
    h(
      "tbody",
      {},
      s.groups
        .slice(0, 200)
        .map((g) =>
          h(
            "tr",
            {},
            h("td", { class: "ident" }, g.key || "(none)"),
            h("td", { class: "num" }, f.metricAmount(s.metric, g.spent)),
            h("td", { class: "num" }, `${g.pct}%`),
            h("td", {}, bar(s.metric, s.limit, g)),
            h("td", { class: `budget-state budget-${g.state}` }, g.state),
          ),
        ),
    ),
  );
}

export function createBudgetSection(token: string, userBudgets?: UserBudgets): { el: HTMLElement; load(): void } {
  const budgets = new Card({ id: "budgets", title: "Budgets", span: "full" });
  const alerts = new Card({ id: "alerts", title: "Alert history", span: "full" });
  const load = async () => {
    budgets.loading();
    alerts.loading();
    try {
      const list = (await getJson<{ budgets: BudgetDef[] }>("v1/budgets", token)).budgets;
      if (list.length === 0) {
        budgets.empty("No budgets yet: POST /v1/budgets (docs/budgets.md)");
        userBudgets?.set([]);
      } else {
        const statuses = await Promise.all(list.map((b) => getJson<Status>(`v1/budgets/${b.id}/status`, token)));
        // The per-user ones also feed the Users card's bars (from these same statuses: no request per row).
        userBudgets?.set(
          list.flatMap((b, i) => {
            const s = statuses[i] as Status;
            if (b.per !== "user_id") return [];
            const users = new Map(s.groups.map((g) => [g.key, { spent: g.spent, pct: g.pct, state: g.state }]));
            return [{ id: b.id, name: b.name, metric: s.metric, limit: s.limit, resets_at: s.resets_at, users }];
          }),
        );
        const rows = list.map((b, i) => {
          const s = statuses[i] as Status;
          const detail = h(
            "div",
            { class: "budget-detail", hidden: true },
            s.groups.length > 0 ? groupTable(s) : h("p", { class: "muted" }, "No per-group split"),
          );
          const row = h(
            "button",
            { class: "budget-row", type: "button", "data-budget": b.id, onclick: () => detail.toggleAttribute("hidden") },
            h(
              "span",
              { class: "budget-name" },
              b.name,
              h("span", { class: "muted" }, ` ${b.enforcement}${b.per ? ` · per ${b.per}` : ""}`),
            ),
            bar(s.metric, s.limit, s),
            h(
              "span",
              { class: "budget-figures" },
              `${f.metricAmount(s.metric, s.spent)} of ${f.metricAmount(s.metric, s.limit)} · forecast ${f.metricAmount(s.metric, s.forecast)}`,
              s.resets_at ? ` · resets ${new Date(s.resets_at).toLocaleString()}` : " · rolling",
            ),
          );
          return h("div", { class: "budget" }, row, detail);
        });
        budgets.body.replaceChildren(...rows);
        budgets.note.textContent = "click a budget for its groups";
        budgets.ready();
      }
    } catch (err) {
      budgets.error((err as Error).message, () => void load());
    }
    try {
      const events = (await getJson<{ events: AlertEvent[] }>("v1/alerts/events?limit=50", token)).events;
      if (events.length === 0) alerts.empty("No alerts sent");
      else {
        alerts.body.replaceChildren(
          h(
            "table",
            { class: "table" },
            h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Type"), h("th", {}, "Key"), h("th", {}, "Detail"))),
            h(
              "tbody",
              {},
              events.map((e) =>
                h(
                  "tr",
                  { "data-event": e.id },
                  h("td", {}, new Date(e.occurred_at).toLocaleString()),
                  h("td", {}, e.type),
                  h("td", { class: "ident" }, e.key || "—"),
                  h(
                    "td",
                    {},
                    e.data.threshold !== undefined
                      ? `${e.data.threshold}% · ${e.data.spent} of ${e.data.limit}`
                      : `${e.data.metric} ${e.data.op} ${e.data.threshold} (value ${e.data.value})`,
                  ),
                ),
              ),
            ),
          ),
        );
        alerts.ready();
      }
    } catch (err) {
      alerts.error((err as Error).message, () => void load());
    }
  };
  return { el: h("div", { class: "grid budgets-grid" }, budgets.el, alerts.el), load: () => void load() };
}
