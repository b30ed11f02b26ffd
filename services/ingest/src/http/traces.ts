import { ApiError, type AuthOptions, resolvePrincipal } from "@tokenmeter/http";
import {
  type DecodedExport,
  decodeJsonExport,
  decodeProtobufExport,
  type ExportResult,
  encodeProtobufResponse,
  encodeProtobufStatus,
  jsonResponse,
  OtlpDecodeError,
} from "@tokenmeter/otlp";
import { Hono } from "hono";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { refusalError } from "../dedup/bisect.js";
import type { EventSink, WriteResult } from "../sink.js";
import { retryHelps } from "./routes.js";
import { BodyError, ByteBudget, OTLP_MAX_BODY_BYTES, readOtlpBody } from "./traces-body.js";
import { mapExport } from "./traces-map.js";
import { createTraceMetrics } from "./traces-metrics.js";

export interface TraceRoutesOptions {
  sink: EventSink;
  auth: AuthOptions;
  logger: Logger;
  registry?: Registry;
  now?: () => number;
  /** Requests in progress at once; one more is answered 429 + Retry-After. Default 64 (memory is bounded by maxInFlightBytes). */
  maxConcurrent?: number;
  /** Decompressed bytes all requests in progress may hold; past it a request is answered 429. Default 128 MiB (two full-size exports). */
  maxInFlightBytes?: number;
  /** Default 64 MiB (DESIGN). */
  maxBodyBytes?: number;
}

/** gRPC status codes for the google.rpc.Status error body OTLP/HTTP sends. */
const GRPC = { invalidArgument: 3, resourceExhausted: 8, internal: 13, unavailable: 14, unauthenticated: 16 } as const;

type Format = "protobuf" | "json";

/**
 * `POST /v1/traces`: an OTLP/HTTP trace receiver (DESIGN "OpenTelemetry
 * ingest"). Every span that is one model call becomes a usage event, stored
 * through the same sink as `/v1/events` (200 only once durable); other spans
 * are skipped and counted; a bad span is rejected alone (partialSuccess).
 */
export function createTraceRoutes(opts: TraceRoutesOptions): Hono {
  const now = opts.now ?? Date.now;
  const metrics = createTraceMetrics(opts.registry);
  const maxConcurrent = opts.maxConcurrent ?? 64;
  let inFlight = 0;
  const budget = new ByteBudget(opts.maxInFlightBytes ?? 2 * OTLP_MAX_BODY_BYTES);
  const app = new Hono();

  app.post("/v1/traces", async (c) => {
    const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    const format: Format = type === "application/json" ? "json" : "protobuf";
    const fail = (status: 400 | 401 | 413 | 415 | 429 | 500 | 503, grpc: number, message: string, headers: Record<string, string> = {}) =>
      respond(format, status, format === "json" ? { code: grpc, message } : encodeProtobufStatus(grpc, message), headers);
    if (type !== "application/x-protobuf" && type !== "application/json") {
      return fail(415, GRPC.invalidArgument, `Content-Type must be application/x-protobuf or application/json, got ${type || "none"}`);
    }
    // 1. Who: the same credentials as /v1/events (Authorization: Bearer <JWT or API key>).
    const token = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim();
    if (!token) return fail(401, GRPC.unauthenticated, "missing Authorization: Bearer <token>");
    let org_id: string;
    try {
      org_id = (await resolvePrincipal(token, opts.auth)).org_id;
    } catch (err) {
      if (err instanceof ApiError) return fail(401, GRPC.unauthenticated, err.message);
      throw err;
    }
    // 2. Backpressure before reading (the byte budget bounds memory while reading).
    if (inFlight >= maxConcurrent)
      return fail(429, GRPC.resourceExhausted, "too many exports in progress, retry later", { "retry-after": "1" });
    inFlight++;
    let held = 0;
    try {
      // 3. Read (gunzip bounded) and decode; an undecodable body is a 400, not retryable.
      let decoded: DecodedExport;
      try {
        const body = await readOtlpBody(c.req.raw, opts.maxBodyBytes ?? OTLP_MAX_BODY_BYTES, budget);
        held = body.length;
        decoded = format === "json" ? decodeJsonExport(body) : decodeProtobufExport(body);
      } catch (err) {
        if (err instanceof BodyError) {
          // Refused before its end: the rest of the body is left unread, so this connection cannot carry another request.
          const close: Record<string, string> = err.status === 400 ? {} : { connection: "close" };
          const headers = err.status === 429 ? { ...close, "retry-after": "1" } : close;
          return fail(err.status, err.status === 400 ? GRPC.invalidArgument : GRPC.resourceExhausted, err.message, headers);
        }
        if (err instanceof OtlpDecodeError) return fail(400, GRPC.invalidArgument, err.message);
        throw err;
      }
      // 4. Map and validate each span on its own.
      const mapped = mapExport(decoded, org_id, now(), metrics);
      // 5. Store through the /v1/events sink, one write per dialect (its source column names the mapping).
      let written: WriteResult[];
      try {
        written = await Promise.all([...mapped.byDialect].map(([dialect, batch]) => opts.sink.write(batch.events, `otlp:${dialect}`)));
      } catch (err) {
        opts.logger.error({ op: "otlp_ingest", org_id, err }, "sink write failed");
        // As /v1/events: retryable only when retrying can help; OTLP exporters do not retry a 500.
        if (!retryHelps(err)) return fail(500, GRPC.internal, "spans could not be stored (a store error retrying will not fix)");
        return fail(503, GRPC.unavailable, "spans could not be stored, retry the export", { "retry-after": "5" });
      }
      // 6. Rows the engine refused (defence in depth behind validation) are rejected spans; the rest is stored.
      [...mapped.byDialect].forEach(([dialect, batch], i) => {
        const refused = written[i]?.refused ?? [];
        for (const r of refused)
          mapped.reject(dialect, "refused", `span ${batch.spanIds[r.index]} (${dialect}): ${refusalError(r.reason).message}`);
        metrics.mapped.inc({ dialect }, batch.events.length - refused.length);
      });
      const result: ExportResult = { rejectedSpans: mapped.rejected(), errorMessage: mapped.reasons() };
      return respond(format, 200, format === "json" ? jsonResponse(result) : encodeProtobufResponse(result));
    } finally {
      inFlight--;
      budget.give(held);
    }
  });
  return app;
}

function respond(format: Format, status: number, body: object | Uint8Array, headers: Record<string, string> = {}): Response {
  const json = format === "json";
  return new Response(json ? JSON.stringify(body) : (body as Uint8Array<ArrayBuffer>), {
    status,
    headers: { "content-type": json ? "application/json" : "application/x-protobuf", ...headers },
  });
}
