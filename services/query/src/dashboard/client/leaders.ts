import type { AgentRow, UserRow } from "./api.js";
import type { Card } from "./card.js";
import type { ViewContext } from "./context.js";
import { h } from "./dom.js";
import * as f from "./format.js";
import { meter, sortableTable } from "./table.js";

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

/** Top users by cost. */
export function renderUsers(card: Card, users: UserRow[], _ctx: ViewContext): () => void {
  const max = Math.max(0, ...users.map((u) => u.cost_usd));
  const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent-2").trim();
  card.body.replaceChildren(
    h(
      "div",
      { class: "table-wrap" },
      sortableTable({
        rows: users,
        caption: "Top users",
        sort: { key: "cost_usd", dir: "desc" },
        columns: [
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
        ],
      }),
    ),
  );
  card.note.textContent = `top ${users.length} by cost`;
  return () => undefined;
}
