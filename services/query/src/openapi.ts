import type { z } from "zod";
import { budgetAlertPaths } from "./budgets/openapi.js";
import type { EndpointDef } from "./endpoint.js";
import { pricingOverridePaths } from "./openapi-pricing.js";
import { ErrorBody, jsonSchema, otherPaths } from "./openapi-routes.js";
import { TRACES_PATHS } from "./openapi-traces.js";
import { PARAMS, REPEATABLE } from "./params.js";

/**
 * OpenAPI 3.1 for the analytics endpoints, generated from the same zod schemas
 * that validate the query parameters and describe the responses.
 */
export function buildOpenApi(endpoints: readonly EndpointDef[]): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const e of endpoints) {
    const shape = PARAMS[e.name].shape as Record<string, z.ZodType>;
    const parameters = Object.entries(shape).map(([name, schema]) => ({
      name,
      in: "query",
      required: false,
      ...(REPEATABLE.has(name) ? { style: "form", explode: true } : {}),
      ...(schema.description ? { description: schema.description } : {}),
      schema: jsonSchema(schema, "input"),
    }));
    const error = (description: string) => ({ description, content: { "application/json": { schema: jsonSchema(ErrorBody, "output") } } });
    paths[e.path] = {
      get: {
        operationId: e.name,
        summary: e.summary,
        security: [{ bearer: [] }],
        parameters,
        responses: {
          200: {
            description: "OK. X-Cache says HIT or MISS; text/csv with format=csv or Accept: text/csv.",
            headers: { "X-Cache": { schema: { type: "string", enum: ["HIT", "MISS"] } } },
            content: { "application/json": { schema: jsonSchema(e.response, "output") }, "text/csv": { schema: { type: "string" } } },
          },
          400: error("A parameter is invalid: details name it and what is allowed"),
          401: error("Missing or invalid credential"),
          503: error("Storage unavailable"),
        },
      },
    };
  }
  Object.assign(paths, TRACES_PATHS, pricingOverridePaths());
  return {
    openapi: "3.1.0",
    info: { title: "Tokenmeter Query API", version: "1" },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT (HS256, org_id claim) or API key" } } },
    paths: { ...paths, ...otherPaths(), ...budgetAlertPaths() },
  };
}
