import { errorResponse, jsonSchema } from "./openapi-routes.js";
import { OverrideBody } from "./routes/pricing.js";

/** Price overrides of the caller's org (routes/pricing.ts), mounted beside the analytics. */
export function pricingOverridePaths(): Record<string, unknown> {
  return {
    "/v1/pricing/overrides/{model}": {
      put: {
        operationId: "setPriceOverride",
        summary: "Price a model for the caller's org from effective_from on, then re-price its history of that model",
        security: [{ bearer: [] }],
        parameters: [
          { name: "model", in: "path", required: true, schema: { type: "string" }, description: "The model as events report it" },
        ],
        requestBody: { required: true, content: { "application/json": { schema: jsonSchema(OverrideBody, "input") } } },
        responses: {
          200: { description: "Saved; `reprice` says how many stored events were re-priced" },
          400: errorResponse("A price or the instant is invalid: details name the field"),
          401: errorResponse("Missing or invalid credential"),
        },
      },
    },
    "/v1/pricing/overrides": {
      get: {
        operationId: "listPriceOverrides",
        summary: "The caller's org's price overrides",
        security: [{ bearer: [] }],
        responses: {
          200: { description: "{overrides: [{model, effective_from, input_cost_per_token, …}]}" },
          401: errorResponse("Missing or invalid credential"),
        },
      },
    },
  };
}
