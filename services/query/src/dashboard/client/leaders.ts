import type { AgentRow, UserRow } from "./api.js";
import type { Card } from "./card.js";
import type { ViewContext } from "./context.js";
import { h } from "./dom.js";
import * as f from "./format.js";
import { type Column, meter, type SortSpec, sortableTable } from "./table.js";
import { figuresOf, type UserBudgets, userBudgetBar } from "./user-budgets.js";

/** Top agents by requests; clicking one filters the dashboard to it. */
export function renderAgents(card: Card, agents: AgentRow[], ctx: ViewContext): () => void {
  const max = Math.max(0, ...agents.map((a) => a.requests));
  const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim();
  card.body.replaceChildren(
    h(
      "div",
      { class: "table-wrap" },
      sortableTable({
        rows: agents,
        caption: "Top agents",
        sort: { key: "requests", dir: "desc" },
        onRow: (a) => ctx.setFilter("agent_id", a.agent_id),
        rowTitle: "Filter the dashboard by this agent",
        columns: [
          { key: "agent_id", label: "Agent", value: (a) => a.agent_id, cell: (a) => h("span", { class: "ident" }, a.agent_id || "(none)") },
          {
            key: "requests",
            label: "Requests",
            num: true,
            value: (a) => a.requests,
            cell: (a) => meter(max > 0 ? a.requests / max : 0, accent, f.count(a.requests)),
          },
          {
            key: "errors",
            label: "Errors",
            num: true,
            value: (a) => a.errors,
            cell: (a) => h("span", { class: a.requests > 0 && a.errors / a.requests > 0.05 ? "bad" : undefined }, f.count(a.errors)),
          },
          { key: "total_tokens", label: "Tokens", num: true, value: (a) => a.total_tokens, cell: (a) => f.countShort(a.total_tokens) },
          { key: "cost_usd", label: "Cost", num: true, value: (a) => a.cost_usd, cell: (a) => f.usd(a.cost_usd) },
        ],
      }),
    ),
  );
  card.note.textContent = `top ${agents.length} by requests`;
  return () => undefined;
}

/**
 * Top users by cost; where per-user budgets exist, each row also shows this
 * window's bar of every one of them (drawn again when they arrive or change).
 */
export function renderUsers(card: Card, users: UserRow[], _ctx: ViewContext, budgets?: UserBudgets): () => void {
  const max = Math.max(0, ...users.map((u) => u.cost_usd));
  const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent-2").trim();
  let sort: SortSpec = { key: "cost_usd", dir: "desc" };
  const draw = () => {
    const perUser = budgets?.current ?? [];
    const columns: Column<UserRow>[] = [
      { key: "user_id", label: "User", value: (u) => u.user_id, cell: (u) => h("span", { class: "ident" }, u.user_id || "(none)") },
      { key: "requests", label: "Requests", num: true, value: (u) => u.requests, cell: (u) => f.count(u.requests) },
      { key: "total_tokens", label: "Tokens", num: true, value: (u) => u.total_tokens, cell: (u) => f.countShort(u.total_tokens) },
      {
        key: "cost_usd",
        label: "Cost",
        num: true,
        value: (u) => u.cost_usd,
        cell: (u) => meter(max > 0 ? u.cost_usd / max : 0, accent, f.usd(u.cost_usd)),
      },
    ];
    if (perUser.length > 0)
      columns.push({
        key: "budget",
        label: "Budget",
        title: "This window of each per-user budget (hover a bar for its figures and reset)",
        num: true,
        value: (u) => Math.max(...perUser.map((b) => figuresOf(b, u.user_id).pct)),
        cell: (u) => h("span", { class: "user-budgets" }, ...perUser.map((b) => userBudgetBar(b, u.user_id))),
      });
    card.body.replaceChildren(
      h(
        "div",
        { class: "table-wrap" },
        sortableTable({
          rows: users,
          caption: "Top users",
          sort,
          onSort: (s) => {
            sort = s;
          },
          columns,
        }),
      ),
    );
    card.note.textContent = `top ${users.length} by cost${perUser.length > 0 ? ` · ${perUser.length === 1 ? "budget" : "budgets"}: ${perUser.map((b) => b.name).join(", ")}` : ""}`;
  };
  draw();
  return budgets ? budgets.subscribe(draw) : () => undefined;
}
