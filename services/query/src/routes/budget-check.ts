import { ApiError, type AuthEnv } from "@tokenmeter/http";
import { Hono } from "hono";
import { parseBody } from "../budgets/body.js";
import { CheckInput, callValue, inScope } from "../budgets/check.js";
import type { HoldLine } from "../budgets/reservations.js";
import type { BudgetRuntime } from "../budgets/runtime.js";
import { roundMetric, windowAt } from "../budgets/window.js";
import { iso } from "../params.js";

/**
 * POST /v1/budgets/check: every budget whose scope matches the call, from the
 * in-memory snapshot (no store query), and whether a hard one refuses it.
 * With an idempotency key the estimate is held atomically, so concurrent
 * calls cannot all pass under the cap. DELETE /v1/budgets/reservations/{key}
 * releases a hold early.
 */
export function budgetCheckRoutes(rt: BudgetRuntime, now: () => number): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.post("/v1/budgets/check", async (c) => {
    const { org_id } = c.get("principal");
    const call = await parseBody(c, CheckInput);
    const key = call.idempotency_key ?? c.req.header("idempotency-key");
    const t = now();
    // 1. The budgets this call counts against, with what their current window holds.
    const view = await rt.snapshot.get(org_id);
    const matched = view.budgets.filter((b) => inScope(b, call));
    const rows = matched.map((b) => {
      const window = windowAt(b.window, t);
      const snap = view.spent.get(b.id);
      // A snapshot from the previous calendar window says nothing about this one (a rolling one slides: keep it).
      const fresh = snap && (window.resets_at === null || snap.window.start === window.start) ? snap : undefined;
      const group = b.per ? callValue(call, b.per) : null;
      const spent = fresh ? (group === null ? fresh.total : (fresh.groups.get(group) ?? 0)) : 0;
      return { b, window, group, spent };
    });
    // 2. Reservations: held amounts count as spent; hold this call's estimate if asked and allowed.
    const lines: HoldLine[] = rows.map((r) => ({
      key: `${r.b.id}:${r.group ?? ""}`,
      spent: r.spent,
      limit: r.b.limit,
      hard: r.b.enforcement === "hard",
      estimate: call.estimate,
    }));
    const needsHolds = lines.some((l) => l.hard) || (key !== undefined && lines.length > 0);
    const result = needsHolds
      ? await rt.reservations.hold({
          org_id,
          lines,
          now: t,
          ...(key !== undefined ? { reservation: { id: key, ttlMs: call.ttl_seconds * 1000 } } : {}),
        })
      : { allowed: true, held: lines.map(() => 0), reserved: false };
    // 3. The answer.
    return c.json({
      allowed: result.allowed,
      budgets: rows.map((r, i) => ({
        id: r.b.id,
        name: r.b.name,
        key: r.group,
        metric: r.b.metric,
        spent: r.spent,
        limit: r.b.limit,
        remaining: roundMetric(r.b.metric, Math.max(0, r.b.limit - r.spent - (result.held[i] ?? 0))),
        held: result.held[i] ?? 0,
        resets_at: r.window.resets_at === null ? null : iso(r.window.resets_at),
        enforcement: r.b.enforcement,
      })),
      ...(key !== undefined && result.reserved ? { reservation: { id: key, expires_at: iso(t + call.ttl_seconds * 1000) } } : {}),
    });
  });

  app.delete("/v1/budgets/reservations/:key", async (c) => {
    const { org_id } = c.get("principal");
    if (!(await rt.reservations.release(org_id, c.req.param("key"))))
      throw new ApiError("not_found", `no reservation ${c.req.param("key")}`, { id: c.req.param("key") });
    return c.body(null, 204);
  });
  return app;
}
