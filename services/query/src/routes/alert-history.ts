import { ApiError, type AuthEnv } from "@tokenmeter/http";
import { Hono } from "hono";
import { z } from "zod";
import type { AlertsContext } from "../alerts/api.js";
import { attemptDelivery } from "../alerts/deliver.js";
import { toRule } from "../alerts/repo.js";
import { bodyIssues, invalidBody } from "../budgets/body.js";
import { iso } from "../params.js";

const ListParams = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  rule_id: z.string().optional(),
  event_id: z.string().optional(),
});

function listParams(query: Record<string, string>) {
  const p = ListParams.safeParse(query);
  if (!p.success) throw invalidBody(bodyIssues(p.error));
  return p.data;
}

/** GET /v1/alerts/events, GET /v1/alerts/deliveries, POST /v1/alerts/deliveries/{id}/resend. */
export function alertHistoryRoutes(ctx: AlertsContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.get("/v1/alerts/events", async (c) => {
    const { org_id } = c.get("principal");
    const p = listParams(c.req.query());
    const events = await ctx.deps.events.list(org_id, { limit: p.limit, ...(p.rule_id ? { rule_id: p.rule_id } : {}) });
    return c.json({
      events: events.map((n) => ({
        id: n.id,
        type: n.type,
        org_id: n.org_id,
        rule_id: n.rule_id,
        key: n.group_key,
        occurred_at: iso(n.occurred_at),
        data: n.data,
      })),
    });
  });

  app.get("/v1/alerts/deliveries", async (c) => {
    const { org_id } = c.get("principal");
    const p = listParams(c.req.query());
    const rows = await ctx.deps.deliveries.list(org_id, { limit: p.limit, ...(p.event_id ? { event_id: p.event_id } : {}) });
    return c.json({
      deliveries: rows.map((d) => ({
        id: d.delivery_id,
        event_id: d.event_id,
        rule_id: d.rule_id,
        channel: d.channel,
        channel_type: d.channel_type,
        attempt: d.attempt,
        status: d.status,
        response_code: d.response_code,
        error: d.error,
        at: iso(d.at),
        next_attempt_at: d.next_attempt_at === null ? null : iso(d.next_attempt_at),
      })),
    });
  });

  // Sends the same notification (same id and Idempotency-Key) to the same channel once more, now.
  app.post("/v1/alerts/deliveries/:id/resend", async (c) => {
    const { org_id } = c.get("principal");
    const id = c.req.param("id");
    const [last] = await ctx.deps.deliveries.list(org_id, { delivery_id: id, limit: 1 });
    const n = last ? await ctx.deps.events.get(org_id, last.event_id) : undefined;
    const stored = last ? await ctx.deps.rules.get(org_id, last.rule_id) : undefined;
    if (!last || !n || !stored) throw new ApiError("not_found", `no delivery ${id} (or its notification or rule is gone)`, { id });
    const job = {
      org_id,
      event_id: n.id,
      rule_id: last.rule_id,
      channel: last.channel,
      delivery_id: `${n.id}:${last.channel}:r${ctx.now()}`,
      attempt: 1,
    };
    const out = await attemptDelivery({ ...ctx.deps, policy: { ...ctx.deps.policy, maxAttempts: 1 } }, job, { n, rule: toRule(stored) });
    return c.json({ id: job.delivery_id, event_id: n.id, status: out.status, response_code: out.response_code, error: out.error });
  });
  return app;
}
