export { EVENT_LIMITS, type FieldError, OPERATIONS, UsageEventInput, validateEvent } from "@tokenmeter/core";
export * from "./budgets.js";
export * from "./client.js";
export * from "./transport.js";
