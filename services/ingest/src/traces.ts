import { type UsageEvent, validateEvent } from "@tokenmeter/core";
import { ApiError, type AuthOptions, resolvePrincipal } from "@tokenmeter/http";
import {
  type DecodedExport,
  decodeJsonExport,
  decodeProtobufExport,
  type ExportResult,
  encodeProtobufResponse,
  encodeProtobufStatus,
  jsonResponse,
  mapSpan,
  OtlpDecodeError,
} from "@tokenmeter/otlp";
import { Hono } from "hono";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { EventSink } from "./sink.js";
import { BodyError, ByteBudget, OTLP_MAX_BODY_BYTES, readOtlpBody } from "./traces-body.js";
import { createTraceMetrics } from "./traces-metrics.js";

export interface TraceRoutesOptions {
  sink: EventSink;
  auth: AuthOptions;
  logger: Logger;
  registry?: Registry;
  now?: () => number;
  /** Requests decoded at once; one more is answered 429 + Retry-After. Default 16. */
  maxConcurrent?: number;
  /** Decompressed bytes all requests in progress may hold; past it a request is answered 429. Default 128 MiB (two full-size exports). */
  maxInFlightBytes?: number;
  /** Default 64 MiB (DESIGN). */
  maxBodyBytes?: number;
}

/** Reasons kept in errorMessage: the first few, so one bad export cannot make a huge answer. */
const MAX_REASONS = 5;
/** gRPC status codes for the google.rpc.Status error body OTLP/HTTP sends. */
const GRPC = { invalidArgument: 3, resourceExhausted: 8, unavailable: 14, unauthenticated: 16 } as const;

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
  const maxConcurrent = opts.maxConcurrent ?? 16;
  let inFlight = 0;
  const budget = new ByteBudget(opts.maxInFlightBytes ?? 2 * OTLP_MAX_BODY_BYTES);
  const app = new Hono();

  app.post("/v1/traces", async (c) => {
    const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    const format: Format = type === "application/json" ? "json" : "protobuf";
    const fail = (status: 400 | 401 | 413 | 415 | 429 | 503, grpc: number, message: string, retryAfter?: number) => {
      const headers: Record<string, string> = retryAfter === undefined ? {} : { "retry-after": String(retryAfter) };
      return respond(format, status, format === "json" ? { code: grpc, message } : encodeProtobufStatus(grpc, message), headers);
    };
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
    // 2. Backpressure before reading: each request may hold a 64 MiB body.
    if (inFlight >= maxConcurrent) return fail(429, GRPC.resourceExhausted, "too many exports in progress, retry later", 1);
    inFlight++;
    let held = 0;
    try {
      // 3. Read (gunzip bounded) and decode; an undecodable body is a 400, not retryable.
      let decoded: DecodedExport;
      try {
        const body = await readOtlpBody(c.req.raw, opts.maxBodyBytes ?? OTLP_MAX_BODY_BYTES, budget);
        held = body.length;
        decoded = format === "json" ? decodeJsonExport(Buffer.from(body).toString("utf8")) : decodeProtobufExport(body);
      } catch (err) {
        if (err instanceof BodyError) {
          const retryAfter = err.status === 429 ? 1 : undefined;
          return fail(err.status, err.status === 400 ? GRPC.invalidArgument : GRPC.resourceExhausted, err.message, retryAfter);
        }
        if (err instanceof OtlpDecodeError) return fail(400, GRPC.invalidArgument, err.message);
        throw err;
      }
      // 4. Map and validate each span on its own.
      const { byDialect, reasons, rejected } = mapExport(decoded, org_id, now(), metrics);
      // 5. Store through the /v1/events sink, one write per dialect (its source column names the mapping).
      try {
        await Promise.all([...byDialect].map(([dialect, events]) => opts.sink.write(events, `otlp:${dialect}`)));
      } catch (err) {
        opts.logger.error({ op: "otlp_ingest", org_id, err }, "sink write failed");
        return fail(503, GRPC.unavailable, "spans could not be stored, retry the export", 5);
      }
      for (const [dialect, events] of byDialect) metrics.mapped.inc({ dialect }, events.length);
      const result: ExportResult = { rejectedSpans: rejected, errorMessage: reasons.join("; ") };
      return respond(format, 200, format === "json" ? jsonResponse(result) : encodeProtobufResponse(result));
    } finally {
      inFlight--;
      budget.give(held);
    }
  });
  return app;
}

function mapExport(decoded: DecodedExport, org_id: string, at: number, metrics: ReturnType<typeof createTraceMetrics>) {
  const byDialect = new Map<string, UsageEvent[]>();
  const reasons: string[] = [];
  let rejected = 0;
  const reject = (dialect: string, kind: string, reason: string) => {
    rejected++;
    metrics.rejected.inc({ dialect, reason: kind });
    if (reasons.length < MAX_REASONS) reasons.push(reason);
  };
  for (const e of decoded.errors) {
    metrics.received.inc({ dialect: "none" });
    reject("none", "undecodable", `${e.path}: ${e.reason}`);
  }
  for (const span of decoded.spans) {
    const out = mapSpan(span);
    metrics.received.inc({ dialect: out.dialect });
    const where = `span ${span.spanId} (${out.dialect})`;
    if (out.kind === "skip") metrics.skipped.inc({ dialect: out.dialect, reason: out.reason });
    else if (out.kind === "reject") reject(out.dialect, "unmappable", `${where}: ${out.reason}`);
    else {
      const v = validateEvent(out.input, { now: at, org_id });
      if (!v.ok) {
        const otherOrg = v.errors.some((e) => e.path === "org_id");
        reject(out.dialect, otherOrg ? "other_org" : "invalid", `${where}: ${v.errors.map((e) => `${e.path} ${e.message}`).join(", ")}`);
        continue;
      }
      const list = byDialect.get(out.dialect) ?? [];
      list.push(v.event);
      byDialect.set(out.dialect, list);
    }
  }
  if (rejected > reasons.length) reasons.push(`and ${rejected - reasons.length} more`);
  return { byDialect, reasons, rejected };
}

function respond(format: Format, status: number, body: object | Uint8Array, headers: Record<string, string> = {}): Response {
  const json = format === "json";
  return new Response(json ? JSON.stringify(body) : (body as Uint8Array<ArrayBuffer>), {
    status,
    headers: { "content-type": json ? "application/json" : "application/x-protobuf", ...headers },
  });
}
