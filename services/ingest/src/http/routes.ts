import { StoreError } from "@tokenmeter/clickhouse";
import { type FieldError, type UsageEvent, validateEvent } from "@tokenmeter/core";
import { ApiError, type AuthEnv, type AuthOptions, authenticate, createErrorHandler } from "@tokenmeter/http";
import { type Context, Hono } from "hono";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import { refusalError, TooManyRefusedError } from "../dedup/bisect.js";
import type { EventSink, WriteResult } from "../sink.js";
import { BodyAbortedError, invalidUtf8Lines, parseEventsBody, readBodyBytes } from "./body.js";
import { createTraceRoutes } from "./traces.js";

/** docs/api.md "POST /v1/events": at most 1,000 events / 5 MB a request. */
export const HTTP_INGEST_LIMITS = { maxEvents: 1_000, maxBytes: 5 * 1024 * 1024 } as const;

export interface IngestRoutesOptions {
  sink: EventSink;
  auth: AuthOptions;
  logger: Logger;
  registry?: Registry;
  /** Clock in epoch ms for event_time checks (tests inject one). */
  now?: () => number;
}

export interface RejectedItem {
  index: number;
  errors: FieldError[];
}

/**
 * `POST /v1/events`: a JSON array (or one object) or NDJSON of usage events
 * for the credential's org. Valid items are stored even when others are
 * rejected; 200 is sent only once the sink says they are durable.
 */
export function createIngestRoutes(opts: IngestRoutesOptions): Hono<AuthEnv> {
  const now = opts.now ?? Date.now;
  const events = eventsCounter(opts.registry);
  const app = new Hono<AuthEnv>();
  app.onError(createErrorHandler(opts.logger));
  app.route("/", createTraceRoutes(opts));

  app.post("/v1/events", authenticate(opts.auth), async (c) => {
    const org_id = c.get("principal").org_id;
    // 1. Read at most 5 MB, whatever Content-Length claims.
    const body = await readBody(c, org_id, opts.logger);
    // 2. Split into items; a broken JSON document is a 400, a broken NDJSON line only rejects that item.
    const items = parseEventsBody(body.toString("utf8"), c.req.header("content-type") ?? "", invalidUtf8Lines(body));
    if (items.length > HTTP_INGEST_LIMITS.maxEvents) {
      throw new ApiError("payload_too_large", `at most ${HTTP_INGEST_LIMITS.maxEvents} events per request, got ${items.length}`, {
        max_events: HTTP_INGEST_LIMITS.maxEvents,
        events: items.length,
      });
    }
    if (items.length === 0) throw new ApiError("bad_request", "no events in the request body");
    // 3. Validate each item against schema v1 and the credential's org.
    const valid: UsageEvent[] = [];
    /** Request index of each valid event, for rows the store refuses. */
    const indexOf: number[] = [];
    const rejected: RejectedItem[] = [];
    const at = now();
    for (const [index, item] of items.entries()) {
      const v = item.ok ? validateEvent(item.value, { now: at, org_id }) : { ok: false as const, errors: [item.error] };
      if (v.ok) {
        valid.push(v.event);
        indexOf.push(index);
      } else rejected.push({ index, errors: v.errors });
    }
    events.inc({ outcome: "rejected" }, rejected.length);
    // Nothing to store: the request as a whole is bad input (docs/api.md: 400 with per-item reasons).
    // With at least one valid item it is a 200 that lists the rejected ones.
    if (valid.length === 0) {
      throw new ApiError("invalid_events", "no valid events in the request", { accepted: 0, duplicates: 0, rejected });
    }
    // 4. Answer only after the sink made the valid ones durable.
    let result: WriteResult;
    try {
      result = await opts.sink.write(valid, "http");
    } catch (err) {
      opts.logger.error({ op: "http_ingest", org_id, events: valid.length, err }, "sink write failed");
      // 503 + retryable only when retrying can help (store or broker unavailable, writer closing); a store
      // error that repeats whatever happens is ours to fix, and "retry" would make clients loop forever.
      if (!retryHelps(err)) {
        throw new ApiError("internal", "events could not be stored (a store error retrying will not fix)", { retryable: false });
      }
      throw new ApiError("unavailable", "events could not be stored, retry the request", { retryable: true });
    }
    // 5. Rows the engine refused (defence in depth behind validation): rejected by index, the rest is stored.
    if (result.refused && result.refused.length > 0) {
      for (const r of result.refused) rejected.push({ index: indexOf[r.index]!, errors: [refusalError(r.reason)] });
      rejected.sort((a, b) => a.index - b.index);
      events.inc({ outcome: "rejected" }, result.refused.length);
    }
    events.inc({ outcome: "accepted" }, result.accepted);
    events.inc({ outcome: "duplicate" }, result.duplicates);
    return c.json({ accepted: result.accepted, duplicates: result.duplicates, rejected });
  });
  return app;
}

/**
 * The body, or the answer for a body we will not read to its end. Over the
 * limit: 413 with `Connection: close`, because the rest of the body is left
 * unread on the socket and the connection cannot carry another request (a
 * pooled client then opens a new one instead of waiting on a dead socket).
 * A client that hung up mid-body gets one info line, not an error.
 */
async function readBody(c: Context<AuthEnv>, org_id: string, logger: Logger): Promise<Buffer> {
  try {
    return await readBodyBytes(c.req.raw, HTTP_INGEST_LIMITS.maxBytes);
  } catch (err) {
    if (err instanceof BodyAbortedError) {
      logger.info({ op: "http_ingest", org_id, reason: err.message }, "client closed the connection mid-body");
      throw new ApiError("bad_request", "request body was cut off before its end");
    }
    if (err instanceof ApiError && err.code === "payload_too_large") c.header("Connection", "close");
    throw err;
  }
}

/** False for a store error that repeats whatever happens (a statement the engine refuses); a closed or unreachable store may come back. */
export function retryHelps(err: unknown): boolean {
  if (err instanceof TooManyRefusedError) return false;
  return !(err instanceof StoreError) || err.retryable || err.code === "unavailable";
}

function eventsCounter(registry?: Registry): Counter<"outcome"> {
  const name = "tokenmeter_http_ingest_events_total";
  const existing = registry?.getSingleMetric(name) as Counter<"outcome"> | undefined;
  return (
    existing ??
    new Counter({ name, help: "Events received over HTTP by outcome", labelNames: ["outcome"], registers: registry ? [registry] : [] })
  );
}
