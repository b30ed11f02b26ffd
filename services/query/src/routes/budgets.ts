import { ApiError, type AuthEnv } from "@tokenmeter/http";
import { Hono } from "hono";
import { invalidBody, parseBody } from "../budgets/body.js";
import { type Budget, BudgetInput } from "../budgets/model.js";
import { toBudget } from "../budgets/repo.js";
import type { BudgetRuntime } from "../budgets/runtime.js";
import { windowQuery } from "../budgets/spent.js";
import { windowAt } from "../budgets/window.js";

/**
 * The scope must be a question the analytics can answer (a filter this
 * build's planner lacks is refused now, not at the first status read).
 */
function checkAnswerable(input: BudgetInput, now: number): void {
  try {
    const probe = { ...input, id: "", created_at: "", updated_at: "" } as Budget;
    windowQuery(probe, windowAt(input.window, now), now);
  } catch (err) {
    if (err instanceof ApiError) throw invalidBody([{ path: "scope", message: err.message }]);
    throw err;
  }
}

/** CRUD of /v1/budgets, org-scoped: another org's id is a 404 like a missing one. */
export function budgetRoutes(rt: BudgetRuntime, now: () => number): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const notFound = (id: string) => new ApiError("not_found", `no budget ${id}`, { id });

  app.post("/v1/budgets", async (c) => {
    const { org_id } = c.get("principal");
    const input = await parseBody(c, BudgetInput);
    checkAnswerable(input, now());
    const stored = await rt.repo.create(org_id, input, now());
    rt.snapshot.invalidate(org_id);
    return c.json(toBudget(stored), 201);
  });

  app.get("/v1/budgets", async (c) => {
    const { org_id } = c.get("principal");
    return c.json({ budgets: (await rt.repo.list(org_id)).map(toBudget) });
  });

  app.get("/v1/budgets/:id", async (c) => {
    const { org_id } = c.get("principal");
    const found = await rt.repo.get(org_id, c.req.param("id"));
    if (!found) throw notFound(c.req.param("id"));
    return c.json(toBudget(found));
  });

  app.put("/v1/budgets/:id", async (c) => {
    const { org_id } = c.get("principal");
    const input = await parseBody(c, BudgetInput);
    checkAnswerable(input, now());
    const stored = await rt.repo.update(org_id, c.req.param("id"), input, now());
    if (!stored) throw notFound(c.req.param("id"));
    rt.snapshot.invalidate(org_id);
    return c.json(toBudget(stored));
  });

  app.delete("/v1/budgets/:id", async (c) => {
    const { org_id } = c.get("principal");
    if (!(await rt.repo.remove(org_id, c.req.param("id"), now()))) throw notFound(c.req.param("id"));
    rt.snapshot.invalidate(org_id);
    return c.body(null, 204);
  });
  return app;
}
