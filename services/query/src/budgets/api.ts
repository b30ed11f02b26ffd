import type { Store } from "@tokenmeter/clickhouse";
import { type AuthEnv, type AuthOptions, authenticate } from "@tokenmeter/http";
import { Hono } from "hono";
import { budgetCheckRoutes } from "../routes/budget-check.js";
import { budgetStatusRoute } from "../routes/budget-status.js";
import { budgetRoutes } from "../routes/budgets.js";
import type { BudgetRuntime } from "./runtime.js";

export interface BudgetApiOptions {
  store: Store;
  auth: AuthOptions;
  runtime: BudgetRuntime;
  now: () => number;
}

/** /v1/budgets/*: every route behind the credential; the org comes from it only. */
export function createBudgetApi(opts: BudgetApiOptions): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.use("/v1/budgets", authenticate(opts.auth));
  app.use("/v1/budgets/*", authenticate(opts.auth));
  app.route("/", budgetCheckRoutes(opts.runtime, opts.now));
  app.route("/", budgetStatusRoute(opts.runtime, opts.store, opts.now));
  app.route("/", budgetRoutes(opts.runtime, opts.now));
  return app;
}
