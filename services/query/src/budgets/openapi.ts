import { z } from "zod";
import { alertRuleInput } from "../alerts/model.js";
import { CheckInput } from "./check.js";
import { Budget, BudgetInput } from "./model.js";
import { BudgetStatus } from "./status.js";

const schema = (s: z.ZodType, io: "input" | "output") => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
};
const ErrorBody = { type: "object", properties: { error: { type: "object", properties: { code: {}, message: {}, details: {} } } } };
const content = (s: unknown) => ({ "application/json": { schema: s } });
const ok = (description: string, s: unknown = { type: "object" }) => ({ description, content: content(s) });
const errors = (...codes: (400 | 404)[]) =>
  Object.fromEntries([
    ...codes.map((c) => [
      c,
      ok(c === 400 ? "Invalid body: details.issues lists every problem (path, message)" : "No such id in this org", ErrorBody),
    ]),
    [401, ok("Missing or invalid credential", ErrorBody)],
  ]);
const idParam = [{ name: "id", in: "path", required: true, schema: { type: "string" } }];
const listParams = (extra: string) => [
  { name: "limit", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 } },
  { name: extra, in: "query", required: false, schema: { type: "string" } },
];
const op = (operationId: string, summary: string, rest: Record<string, unknown>) => ({
  operationId,
  summary,
  security: [{ bearer: [] }],
  ...rest,
});

/** OpenAPI paths of /v1/budgets and /v1/alerts, from the zod schemas that validate them. */
export function budgetAlertPaths(): Record<string, unknown> {
  const budgetIn = { required: true, content: content(schema(BudgetInput, "input")) };
  const budgetOut = schema(Budget, "output");
  const ruleIn = { required: true, content: content(schema(alertRuleInput(true), "input")) };
  return {
    "/v1/budgets": {
      post: op("createBudget", "Create a budget", { requestBody: budgetIn, responses: { 201: ok("Created", budgetOut), ...errors(400) } }),
      get: op("listBudgets", "The org's budgets", {
        responses: { 200: ok("OK", { type: "object", properties: { budgets: { type: "array", items: budgetOut } } }), ...errors() },
      }),
    },
    "/v1/budgets/{id}": {
      get: op("getBudget", "One budget", { parameters: idParam, responses: { 200: ok("OK", budgetOut), ...errors(404) } }),
      put: op("updateBudget", "Replace a budget", {
        parameters: idParam,
        requestBody: budgetIn,
        responses: { 200: ok("OK", budgetOut), ...errors(400, 404) },
      }),
      delete: op("deleteBudget", "Delete a budget", {
        parameters: idParam,
        responses: { 204: { description: "Deleted" }, ...errors(404) },
      }),
    },
    "/v1/budgets/{id}/status": {
      get: op("budgetStatus", "Spent (equal to /v1/analytics/usage totals for the window), remaining, forecast, state, per-group rows", {
        parameters: idParam,
        responses: { 200: ok("OK", schema(BudgetStatus, "output")), ...errors(404) },
      }),
    },
    "/v1/budgets/check": {
      post: op(
        "checkBudgets",
        "Pre-call check from memory; with idempotency_key (or the Idempotency-Key header) the estimate is reserved",
        {
          requestBody: { required: true, content: content(schema(CheckInput, "input")) },
          responses: {
            200: ok("allowed is false when a hard budget is at its limit or the estimate would take it past", {
              type: "object",
              properties: { allowed: { type: "boolean" }, budgets: { type: "array" }, reservation: { type: "object" } },
            }),
            ...errors(400),
          },
        },
      ),
    },
    "/v1/budgets/reservations/{key}": {
      delete: op("releaseReservation", "Release a reservation before its TTL (a UUID key is also settled by its usage event)", {
        // The key the check was called with (its idempotency key), which the check returns as reservation.id.
        parameters: [{ name: "key", in: "path", required: true, schema: { type: "string" } }],
        responses: { 204: { description: "Released" }, ...errors(404) },
      }),
    },
    "/v1/alerts/rules": {
      post: op("createAlertRule", "Create an alert rule (budget thresholds or a metric)", {
        requestBody: ruleIn,
        responses: { 201: ok("Created"), ...errors(400) },
      }),
      get: op("listAlertRules", "The org's alert rules", { responses: { 200: ok("OK"), ...errors() } }),
    },
    "/v1/alerts/rules/{id}": {
      get: op("getAlertRule", "One alert rule", { parameters: idParam, responses: { 200: ok("OK"), ...errors(404) } }),
      put: op("updateAlertRule", "Replace an alert rule", {
        parameters: idParam,
        requestBody: ruleIn,
        responses: { 200: ok("OK"), ...errors(400, 404) },
      }),
      delete: op("deleteAlertRule", "Delete an alert rule", {
        parameters: idParam,
        responses: { 204: { description: "Deleted" }, ...errors(404) },
      }),
    },
    "/v1/alerts/rules/{id}/test": {
      post: op("testAlertRule", "Send a sample notification to every channel once, now", {
        parameters: idParam,
        responses: { 200: ok("Per-channel results"), ...errors(404) },
      }),
    },
    "/v1/alerts/events": {
      get: op("alertEvents", "Notification history, newest first", {
        parameters: listParams("rule_id"),
        responses: { 200: ok("OK"), ...errors(400) },
      }),
    },
    "/v1/alerts/deliveries": {
      get: op("alertDeliveries", "Delivery log: one row per attempt (status, response code, error, next attempt)", {
        parameters: listParams("event_id"),
        responses: { 200: ok("OK"), ...errors(400) },
      }),
    },
    "/v1/alerts/deliveries/{id}/resend": {
      post: op("resendDelivery", "Send the same notification (same id and Idempotency-Key) to the same channel once more", {
        parameters: idParam,
        responses: { 200: ok("The attempt's result"), ...errors(404) },
      }),
    },
  };
}
