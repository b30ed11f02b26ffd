import { EVENT_LIMITS, UsageEventInput } from "@tokenmeter/core";
import { z } from "zod";

/** Every JSON error body: `{"error": {code, message, details}}`. */
export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown() }),
});

export const jsonSchema = (schema: z.ZodType, io: "input" | "output") => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
};

export const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: jsonSchema(ErrorBody, "output") } },
});

const FieldError = z.object({ path: z.string(), message: z.string() });
const IngestResponse = z.object({
  accepted: z.number().int().describe("Events stored by this request (durable when the answer is sent)"),
  duplicates: z.number().int().describe("Valid events whose event_id was already stored (counted once, not again)"),
  rejected: z.array(z.object({ index: z.number().int().describe("0-based position in the body"), errors: z.array(FieldError) })),
});
const json = (schema: z.ZodType) => ({ "application/json": { schema: jsonSchema(schema, "output") } });
const anyJson = { "application/json": { schema: { type: "object" } } };
const rangeParams = ["start", "end"].map((name) => ({
  name,
  in: "query",
  required: false,
  description: `ISO-8601 instant; default ${name === "end" ? "now (minute)" : "end - 30 days"}`,
  schema: { type: "string" },
}));

/**
 * The routes beside the analytics endpoints (ingest, pricing, operations, the
 * dashboard page), described by hand: they have no query-parameter schema to
 * generate from. The event body is generated from the same zod schema that
 * validates it.
 */
export function otherPaths(): Record<string, unknown> {
  const event = jsonSchema(UsageEventInput, "input");
  return {
    "/v1/events": {
      post: {
        operationId: "ingestEvents",
        summary: `Send usage events (schema v1): a JSON array, one object, or NDJSON; at most 1,000 events / 5 MB`,
        description:
          "Valid items are stored even when others are rejected; 200 only once they are durable. org_id comes from the credential " +
          `(an event's org_id must match it). event_time at most ${EVENT_LIMITS.maxFutureSkewMs / 60_000} min in the future and ` +
          `not older than ${EVENT_LIMITS.rawTtlMonths} months. Re-sending an event_id within 24 h counts it once (duplicates).`,
        security: [{ bearer: [] }],
        requestBody: {
          required: true,
          content: {
            "application/json": { schema: { oneOf: [{ type: "array", maxItems: 1000, items: event }, event] } },
            "application/x-ndjson": { schema: { type: "string", description: "One event object per line" } },
          },
        },
        responses: {
          200: { description: "At least one event accepted; rejected items listed with their reasons", content: json(IngestResponse) },
          400: errorResponse("Malformed JSON (line and column), an empty body, or no valid event (details.rejected lists every item)"),
          401: errorResponse("Missing or invalid credential"),
          413: errorResponse("Over 1,000 events or 5 MB"),
          503: errorResponse("Events could not be stored; retry the same request (event_ids make it safe)"),
        },
      },
    },
    "/v1/pricing/models": {
      get: {
        operationId: "pricingModels",
        summary: "Prices in effect now, per model, with their version and source",
        security: [{ bearer: [] }],
        parameters: [{ name: "provider", in: "query", required: false, schema: { type: "string" } }],
        responses: { 200: { description: "OK", content: anyJson }, 401: errorResponse("Missing or invalid credential") },
      },
    },
    "/v1/pricing/unpriced": {
      get: {
        operationId: "pricingUnpriced",
        summary: "The org's models seen without a price in [start, end), most unpriced requests first",
        security: [{ bearer: [] }],
        parameters: rangeParams,
        responses: {
          200: { description: "OK", content: anyJson },
          400: errorResponse("Bad start/end"),
          401: errorResponse("Missing or invalid credential"),
        },
      },
    },
    "/healthz": { get: { operationId: "healthz", summary: "Liveness", responses: { 200: { description: "Serving", content: anyJson } } } },
    "/readyz": {
      get: {
        operationId: "readyz",
        summary: "Readiness: store, cache and extra probes",
        responses: {
          200: { description: "ok or degraded (cache down)", content: anyJson },
          503: { description: "A required part is down" },
        },
      },
    },
    "/metrics": {
      get: {
        operationId: "metrics",
        summary: "Prometheus metrics",
        responses: { 200: { description: "Prometheus text format", content: { "text/plain": { schema: { type: "string" } } } } },
      },
    },
    "/v1/openapi.json": {
      get: { operationId: "openapi", summary: "This document", responses: { 200: { description: "OpenAPI 3.1", content: anyJson } } },
    },
    "/": {
      get: {
        operationId: "dashboard",
        summary: "The dashboard page (token in the URL fragment: /#token=…)",
        responses: { 200: { description: "HTML", content: { "text/html": { schema: { type: "string" } } } } },
      },
    },
  };
}
