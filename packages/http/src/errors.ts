import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "pino";

/** Every error the API answers with, and the HTTP status each maps to. */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_parameter: 400,
  invalid_json: 400,
  invalid_events: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;
export type ApiErrorCode = keyof typeof ERROR_STATUS;

/** An error the client can act on; rendered as `{"error": {code, message, details}}`. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
  }
  get status(): ContentfulStatusCode {
    return ERROR_STATUS[this.code];
  }
}

export function errorBody(code: ApiErrorCode, message: string, details: unknown = null) {
  return { error: { code, message, details } };
}

/**
 * The one `onError` of every Hono app: ApiErrors become their status, anything
 * else is a 500 (or 503 when the store is unreachable) and only those are logged.
 */
export function createErrorHandler(logger: Logger) {
  return (err: Error, c: Context) => {
    if (err instanceof ApiError) return c.json(errorBody(err.code, err.message, err.details), err.status);
    const unavailable = (err as { code?: string }).code === "unavailable" || (err as { code?: string }).code === "timeout";
    logger.error({ err, path: c.req.path, method: c.req.method }, "request failed");
    return unavailable
      ? c.json(errorBody("unavailable", "storage is unavailable, retry later"), 503)
      : c.json(errorBody("internal", "internal error"), 500);
  };
}
