import type { Store } from "@tokenmeter/clickhouse";
import { Definitions, type Stored } from "./definitions.js";
import { type Budget, BudgetInput } from "./model.js";

export type BudgetRepo = Definitions<BudgetInput>;

export function budgetRepo(store: Store): BudgetRepo {
  return new Definitions(store, "budgets", BudgetInput);
}

/** A stored row as the API shows it: its id, the definition, timestamps. */
export function toBudget(s: Stored<BudgetInput>): Budget {
  return { id: s.id, ...s.definition, created_at: s.created_at, updated_at: s.updated_at };
}
