import type { Store } from "@tokenmeter/clickhouse";
import { ApiError, type AuthEnv } from "@tokenmeter/http";
import { Hono } from "hono";
import { toBudget } from "../budgets/repo.js";
import type { BudgetRuntime } from "../budgets/runtime.js";
import { computeSpent, explainScopeError } from "../budgets/spent.js";
import { budgetStatus } from "../budgets/status.js";

/** GET /v1/budgets/{id}/status: read from the store now (the check's snapshot is for the hot path). */
export function budgetStatusRoute(rt: BudgetRuntime, store: Store, now: () => number): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.get("/v1/budgets/:id/status", async (c) => {
    const { org_id } = c.get("principal");
    const found = await rt.repo.get(org_id, c.req.param("id"));
    if (!found) throw new ApiError("not_found", `no budget ${c.req.param("id")}`, { id: c.req.param("id") });
    const budget = toBudget(found);
    const t = now();
    const spent = await computeSpent(store, org_id, budget, t).catch(explainScopeError);
    return c.json(budgetStatus(budget, spent, t));
  });
  return app;
}
