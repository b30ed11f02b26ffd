import { h } from "./dom.js";
import * as f from "./format.js";

// Per-user budgets on the Users card (reference/003: a per-user table with
// this-window budget bars). The Budgets section already reads every budget's
// status once; it hands the per-user ones here, so the Users card draws its
// bars from those per-group rows with no request of its own.

export type BudgetState = "ok" | "warning" | "exceeded";

export interface UserFigures {
  spent: number;
  pct: number;
  state: BudgetState;
}

/** One budget with `per: "user_id"`, as its status reports this window. */
export interface UserBudget {
  id: string;
  name: string;
  metric: string;
  limit: number;
  resets_at: string | null;
  /** user_id → that user's figures (a user with no usage this window is absent: 0). */
  users: Map<string, UserFigures>;
}

/** The per-user budgets the Budgets section loaded, and who draws from them. */
export class UserBudgets {
  private list: UserBudget[] = [];
  private readonly listeners = new Set<() => void>();

  get current(): readonly UserBudget[] {
    return this.list;
  }

  set(list: UserBudget[]): void {
    this.list = list;
    for (const l of this.listeners) l();
  }

  /** Calls `fn` whenever the list changes; returns the unsubscribe. */
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

/** The user's figures in a budget (0 and ok when they spent nothing this window). */
export function figuresOf(b: UserBudget, user: string): UserFigures {
  return b.users.get(user) ?? { spent: 0, pct: 0, state: "ok" };
}

/** A compact bar of one user's spent against a per-user budget's limit, coloured by its state. */
export function userBudgetBar(b: UserBudget, user: string): HTMLElement {
  const fig = figuresOf(b, user);
  const resets = b.resets_at ? `resets ${new Date(b.resets_at).toLocaleString()}` : "rolling window";
  const title = `${b.name}: ${f.metricAmount(b.metric, fig.spent)} of ${f.metricAmount(b.metric, b.limit)} (${fig.pct}%) · ${resets}`;
  const fill = h("span", { class: `user-budget-fill budget-${fig.state}` });
  fill.style.width = `${Math.max(0, Math.min(100, fig.pct))}%`;
  return h(
    "span",
    {
      class: "user-budget",
      "data-budget-bar": b.id,
      "data-pct": String(fig.pct),
      "data-state": fig.state,
      title,
      role: "img",
      "aria-label": title,
    },
    h("span", { class: "user-budget-track" }, fill),
    h("span", { class: "user-budget-pct" }, `${fig.pct}%`),
  );
}
