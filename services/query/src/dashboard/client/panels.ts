import type { AgentRow, Params, UserRow } from "./api.js";
import { Card } from "./card.js";
import type { ViewContext } from "./context.js";
import { h } from "./dom.js";
import { isErrorsEmpty, renderErrors } from "./errors.js";
import { isLatencyEmpty, renderLatency } from "./latency.js";
import { renderAgents, renderUsers } from "./leaders.js";
import { isModelsEmpty, renderModels } from "./models.js";
import { GROUPS, type ViewState } from "./state.js";
import { isUsageEmpty, renderCostTrend, renderTokenTrend } from "./trend.js";
import type { UserBudgets } from "./user-budgets.js";

/** One API call per source; several panels may draw from one source. Only series endpoints take a granularity. */
export const SOURCES = {
  summary: { endpoint: "summary", series: false, extra: (): Params => ({}) },
  usage: { endpoint: "usage", series: true, extra: (s: ViewState): Params => ({ group_by: s.group === "none" ? undefined : s.group }) },
  latency: { endpoint: "latency", series: true, extra: (): Params => ({}) },
  errors: { endpoint: "errors", series: true, extra: (): Params => ({}) },
  models: { endpoint: "models", series: false, extra: (): Params => ({}) },
  agents: { endpoint: "agents", series: false, extra: (): Params => ({ limit: 10 }) },
  users: { endpoint: "users", series: false, extra: (): Params => ({ limit: 10 }) },
} as const;
export type SourceKey = keyof typeof SOURCES;

export interface Panel {
  card: Card;
  source: Exclude<SourceKey, "summary">;
  /** A message when the data has nothing to draw, else null. */
  empty: (data: never) => string | null;
  render: (card: Card, data: never, ctx: ViewContext) => () => void;
}

export interface PanelHost {
  csv(source: SourceKey): Promise<void>;
  change(patch: Partial<ViewState>): void;
  readonly state: ViewState;
}

const NO_DATA = "No usage in this range";

/** The dashboard's panels in page order, each with its card. */
export function createPanels(host: PanelHost, userBudgets?: UserBudgets): Panel[] {
  const card = (id: string, title: string, source: SourceKey, span: "full" | "half" | "two-thirds" | "third", tools: Node[] = []) =>
    new Card({ id, title, span, tools, onCsv: () => host.csv(source) });
  const stackBy = h(
    "select",
    {
      class: "input input-sm",
      "aria-label": "Stack by",
      "data-control": "group",
      onchange: (ev: Event) => host.change({ group: (ev.target as HTMLSelectElement).value as ViewState["group"] }),
    },
    GROUPS.map((g) => h("option", { value: g.id }, `Stack by ${g.label.toLowerCase()}`)),
  );
  stackBy.value = host.state.group;
  const panels: Panel[] = [
    {
      card: card("cost", "Cost", "usage", "half", [stackBy]),
      source: "usage",
      empty: (d) => (isUsageEmpty(d) ? NO_DATA : null),
      render: renderCostTrend,
    },
    {
      card: card("tokens", "Tokens", "usage", "half"),
      source: "usage",
      empty: (d) => (isUsageEmpty(d) ? NO_DATA : null),
      render: renderTokenTrend,
    },
    {
      card: card("latency", "Latency", "latency", "full"),
      source: "latency",
      empty: (d) => (isLatencyEmpty(d) ? "No calls in this range" : null),
      render: renderLatency,
    },
    {
      card: card("errors", "Errors by code", "errors", "full"),
      source: "errors",
      empty: (d) => (isErrorsEmpty(d) ? "No errors in this range" : null),
      render: renderErrors,
    },
    {
      card: card("models", "Models", "models", "full"),
      source: "models",
      empty: (d) => (isModelsEmpty(d) ? NO_DATA : null),
      render: renderModels,
    },
    {
      card: card("agents", "Top agents", "agents", "half"),
      source: "agents",
      empty: (d: { agents: AgentRow[] }) => (d.agents.length === 0 ? NO_DATA : null),
      render: (c, d: { agents: AgentRow[] }, ctx) => renderAgents(c, d.agents, ctx),
    },
    {
      card: card("users", "Top users", "users", "half"),
      source: "users",
      empty: (d: { users: UserRow[] }) => (d.users.length === 0 ? NO_DATA : null),
      render: (c, d: { users: UserRow[] }, ctx) => renderUsers(c, d.users, ctx, userBudgets),
    },
  ];
  return panels;
}
