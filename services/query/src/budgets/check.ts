import { z } from "zod";
import type { Budget } from "./model.js";
import { scopeFilters } from "./model.js";

const value = z.string().max(256);

/** POST /v1/budgets/check: the call about to be made, and optionally a reservation for it. */
export const CheckInput = z.strictObject({
  project_id: value.optional(),
  agent_id: value.optional(),
  user_id: value.optional(),
  provider: value.optional(),
  model: value.optional(),
  operation: value.optional(),
  tags: z.record(z.string().max(64), value).optional(),
  estimate: z.number().min(0, "must be 0 or more").default(0).describe("The call's expected amount, in each budget's metric"),
  idempotency_key: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe(
      "Hold `estimate` on every matching budget under this key (also read from the Idempotency-Key header). A UUID key is settled (the hold dropped) once the usage event with that event_id is stored and counted",
    ),
  ttl_seconds: z.number().int().min(1).max(3600).default(60).describe("How long a reservation is held unless released"),
});
export type CheckInput = z.output<typeof CheckInput>;

/** The call's value of a filter dimension (`tag.<key>` reads its tags); "" when it has none. */
export function callValue(call: CheckInput, dim: string): string {
  if (dim.startsWith("tag.")) return call.tags?.[dim.slice(4)] ?? "";
  if (dim === "provider") return (call.provider ?? "").toLowerCase();
  return (call as Record<string, unknown>)[dim] === undefined ? "" : String((call as Record<string, unknown>)[dim]);
}

/**
 * Whether a call falls in a budget's slice: for every filter of the scope the
 * call must carry one of its values (a call that does not say its agent is
 * not in an agent's budget). Provider is compared in lower case, as ingest stores it.
 */
export function inScope(budget: Budget, call: CheckInput): boolean {
  for (const [dim, allowed] of Object.entries(scopeFilters(budget.scope))) {
    const v = callValue(call, dim);
    if (!allowed.some((a) => (dim === "provider" ? a.toLowerCase() : a) === v)) return false;
  }
  return true;
}
