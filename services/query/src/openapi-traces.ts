/**
 * OpenAPI description of `POST /v1/traces` (served by the ingest service and
 * the all-in-one, DESIGN "OpenTelemetry ingest"). The body is an OTLP
 * ExportTraceServiceRequest, whose schema is the protobuf definition, so it
 * is referenced rather than restated.
 */
const OTLP_REQUEST = "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest (opentelemetry-proto v1.11.0)";

const status = (description: string) => ({
  description: `${description} Body: google.rpc.Status {code, message}, in the request's encoding.`,
  content: {
    "application/json": { schema: { type: "object", properties: { code: { type: "integer" }, message: { type: "string" } } } },
    "application/x-protobuf": { schema: { type: "string", format: "binary" } },
  },
});

export const TRACES_PATHS = {
  "/v1/traces": {
    post: {
      operationId: "traces",
      summary: "OTLP/HTTP trace receiver: GenAI model-call spans become usage events (docs/otel.md)",
      security: [{ bearer: [] }],
      parameters: [{ name: "Content-Encoding", in: "header", required: false, schema: { type: "string", enum: ["gzip", "identity"] } }],
      requestBody: {
        required: true,
        description: `${OTLP_REQUEST}; at most 64 MiB after decompression. JSON: ids as hex, int64 as number or string.`,
        content: {
          "application/x-protobuf": { schema: { type: "string", format: "binary" } },
          "application/json": { schema: { type: "object", properties: { resourceSpans: { type: "array", items: { type: "object" } } } } },
        },
      },
      responses: {
        200: {
          description:
            "Accepted and durable. ExportTraceServiceResponse; partialSuccess {rejectedSpans, errorMessage} when some spans were rejected (the first reasons). Skipped (non-model) spans are not rejected.",
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: {
                  partialSuccess: {
                    type: "object",
                    properties: { rejectedSpans: { type: "integer" }, errorMessage: { type: "string" } },
                  },
                },
              },
            },
            "application/x-protobuf": { schema: { type: "string", format: "binary" } },
          },
        },
        400: status("Undecodable body (not retryable)."),
        401: status("Missing or invalid credential."),
        413: status("Body over 64 MiB after decompression."),
        415: status("Content-Type is neither application/x-protobuf nor application/json."),
        429: status("Too many exports in progress; retry after Retry-After seconds."),
        500: status("A store error retrying will not fix (not retryable)."),
        503: status("Storage (or Kafka) unavailable; retry after Retry-After seconds."),
      },
    },
  },
} as const;
