import { randomBytes } from "node:crypto";
import { ApiError, type AuthEnv } from "@tokenmeter/http";
import { Hono } from "hono";
import type { AlertsContext } from "../alerts/api.js";
import { attemptDelivery } from "../alerts/deliver.js";
import { type AlertRuleInput, alertRuleInput, type StoredRule } from "../alerts/model.js";
import { type Notification, notificationId } from "../alerts/notify.js";
import { toRule } from "../alerts/repo.js";
import { resolvedUrlProblem } from "../alerts/url-guard.js";
import { type BodyIssue, invalidBody, parseBody } from "../budgets/body.js";
import { iso } from "../params.js";

/** /v1/alerts/rules CRUD and POST /v1/alerts/rules/{id}/test. */
export function alertRuleRoutes(ctx: AlertsContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const schema = alertRuleInput(ctx.deps.policy.allowPrivate);
  const notFound = (id: string) => new ApiError("not_found", `no alert rule ${id}`, { id });

  /** Checks that need I/O (the budget exists in this org; URLs resolve to allowed addresses), then fills in secrets. */
  const complete = async (org_id: string, input: AlertRuleInput): Promise<StoredRule> => {
    const issues: BodyIssue[] = [];
    if ("budget_id" in input.source && !(await ctx.budgets.get(org_id, input.source.budget_id)))
      issues.push({ path: "source.budget_id", message: "no such budget in this org" });
    for (const [i, ch] of input.channels.entries()) {
      const problem = await resolvedUrlProblem(ch.url, ctx.deps.policy.allowPrivate, ctx.resolve);
      if (problem) issues.push({ path: `channels.${i}.url`, message: problem });
    }
    if (issues.length > 0) throw invalidBody(issues);
    return {
      ...input,
      channels: input.channels.map((ch) =>
        ch.type === "webhook" ? { ...ch, secret: ch.secret ?? `whsec_${randomBytes(24).toString("hex")}` } : ch,
      ),
    };
  };

  app.post("/v1/alerts/rules", async (c) => {
    const { org_id } = c.get("principal");
    const rule = await complete(org_id, await parseBody(c, schema));
    return c.json(toRule(await ctx.deps.rules.create(org_id, rule, ctx.now())), 201);
  });
  app.get("/v1/alerts/rules", async (c) => {
    const { org_id } = c.get("principal");
    return c.json({ rules: (await ctx.deps.rules.list(org_id)).map(toRule) });
  });
  app.get("/v1/alerts/rules/:id", async (c) => {
    const found = await ctx.deps.rules.get(c.get("principal").org_id, c.req.param("id"));
    if (!found) throw notFound(c.req.param("id"));
    return c.json(toRule(found));
  });
  app.put("/v1/alerts/rules/:id", async (c) => {
    const { org_id } = c.get("principal");
    if (!(await ctx.deps.rules.get(org_id, c.req.param("id")))) throw notFound(c.req.param("id"));
    const rule = await complete(org_id, await parseBody(c, schema));
    const saved = await ctx.deps.rules.update(org_id, c.req.param("id"), rule, ctx.now());
    if (!saved) throw notFound(c.req.param("id"));
    return c.json(toRule(saved));
  });
  app.delete("/v1/alerts/rules/:id", async (c) => {
    if (!(await ctx.deps.rules.remove(c.get("principal").org_id, c.req.param("id"), ctx.now()))) throw notFound(c.req.param("id"));
    return c.body(null, 204);
  });

  // A sample notification to every channel, once each, now; logged in the delivery log, not in the history.
  app.post("/v1/alerts/rules/:id/test", async (c) => {
    const { org_id } = c.get("principal");
    const found = await ctx.deps.rules.get(org_id, c.req.param("id"));
    if (!found) throw notFound(c.req.param("id"));
    const rule = toRule(found);
    const t = ctx.now();
    const budget = "budget_id" in rule.source;
    const n: Notification = {
      id: notificationId(["test", rule.id, t]),
      type: budget ? "budget.threshold_crossed" : "alert.triggered",
      org_id,
      rule_id: rule.id,
      group_key: "",
      episode: t,
      occurred_at: t,
      data: budget
        ? {
            rule_id: rule.id,
            budget_id: (rule.source as { budget_id: string }).budget_id,
            threshold: 80,
            spent: 80,
            limit: 100,
            window_start: iso(t),
          }
        : { rule_id: rule.id, rule_name: rule.name, ...rule.source, value: 0 },
    };
    const results = [];
    for (const [channel, ch] of rule.channels.entries()) {
      const job = { org_id, event_id: n.id, rule_id: rule.id, channel, delivery_id: `${n.id}:${channel}`, attempt: 1 };
      // One attempt, no retry: the caller is waiting for the answer.
      const out = await attemptDelivery({ ...ctx.deps, policy: { ...ctx.deps.policy, maxAttempts: 1 } }, job, { n, rule, test: true });
      results.push({
        channel,
        type: ch.type,
        delivery_id: job.delivery_id,
        status: out.status,
        response_code: out.response_code,
        error: out.error,
      });
    }
    return c.json({ id: n.id, type: n.type, results });
  });
  return app;
}
