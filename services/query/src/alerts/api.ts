import type { Store } from "@tokenmeter/clickhouse";
import { type AuthEnv, type AuthOptions, authenticate } from "@tokenmeter/http";
import { Hono } from "hono";
import type { Logger } from "pino";
import { type BudgetRepo, budgetRepo } from "../budgets/repo.js";
import { alertHistoryRoutes } from "../routes/alert-history.js";
import { alertRuleRoutes } from "../routes/alert-rules.js";
import type { DeliveryDeps, DeliveryPolicy } from "./deliver.js";
import { DeliveryRepo, EventRepo, ruleRepo } from "./repo.js";
import { type Resolve, systemResolve } from "./url-guard.js";

/** Delivery defaults (DESIGN.md "Alerts"): 10 s per attempt, first retry after 60 s, 8 attempts. */
export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = { allowPrivate: false, timeoutMs: 10_000, retryBaseMs: 60_000, maxAttempts: 8 };

export interface AlertsContext {
  deps: DeliveryDeps;
  budgets: BudgetRepo;
  resolve: Resolve;
  now: () => number;
}

export interface AlertApiOptions {
  store: Store;
  auth: AuthOptions;
  logger: Logger;
  now: () => number;
  policy?: DeliveryPolicy;
  resolve?: Resolve;
}

/** /v1/alerts/*: rules CRUD and test, history, the delivery log and resend; org from the credential only. */
export function createAlertApi(opts: AlertApiOptions): Hono<AuthEnv> {
  const ctx: AlertsContext = {
    deps: {
      rules: ruleRepo(opts.store),
      events: new EventRepo(opts.store),
      deliveries: new DeliveryRepo(opts.store),
      policy: opts.policy ?? DEFAULT_DELIVERY_POLICY,
      logger: opts.logger,
      now: opts.now,
    },
    budgets: budgetRepo(opts.store),
    resolve: opts.resolve ?? systemResolve(2_000),
    now: opts.now,
  };
  const app = new Hono<AuthEnv>();
  app.use("/v1/alerts/*", authenticate(opts.auth));
  app.route("/", alertRuleRoutes(ctx));
  app.route("/", alertHistoryRoutes(ctx));
  return app;
}
