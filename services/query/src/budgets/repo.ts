import type { Store } from "@tokenmeter/clickhouse";
import type { z } from "zod";
import { Definitions, type Stored } from "./definitions.js";
import { type Budget, BudgetInput } from "./model.js";

export type BudgetRepo = Definitions<BudgetInput>;

export function budgetRepo(store: Store): BudgetRepo {
  // The schema's scope output is the generic filter map the Scope type spells out.
  return new Definitions(store, "budgets", BudgetInput as unknown as z.ZodType<BudgetInput>);
}

/** A stored row as the API shows it: its id, the definition, timestamps. */
export function toBudget(s: Stored<BudgetInput>): Budget {
  return { id: s.id, ...s.definition, created_at: s.created_at, updated_at: s.updated_at };
}
