import type { UsageEventInput } from "@tokenmeter/core";
import { ALIASES, type Aliases, type Dialect } from "./aliases.js";
import { classify, type SkipReason } from "./classify.js";
import { spanEventId } from "./event-id.js";
import { type Attributes, type AttrValue, BadValue, type OtlpSpan } from "./span.js";

/** What one span becomes: a usage event (still to be validated), a skip, or a rejection with its reason. */
export type SpanOutcome =
  | { kind: "event"; dialect: Dialect; input: UsageEventInput }
  | { kind: "skip"; dialect: Dialect | "none"; reason: SkipReason }
  | { kind: "reject"; dialect: Dialect | "none"; reason: string };

class Reject extends Error {}

/**
 * Maps one span to a usage event input (DESIGN "OpenTelemetry ingest"). The
 * org is not set here unless the span names one (`tokenmeter.org_id`), so
 * event validation refuses a span for another org than the credential's.
 */
export function mapSpan(span: OtlpSpan): SpanOutcome {
  const c = classify(span);
  if (!c.model) return { kind: "skip", dialect: c.dialect, reason: c.reason };
  const dialect = c.dialect as Dialect;
  try {
    const input = toInput(span, dialect, c.operation, ALIASES[dialect]);
    if (input === null) return { kind: "skip", dialect, reason: "no_usage" };
    return { kind: "event", dialect, input };
  } catch (err) {
    if (err instanceof Reject) return { kind: "reject", dialect, reason: err.message };
    throw err;
  }
}

function toInput(span: OtlpSpan, dialect: Dialect, operation: UsageEventInput["operation"], al: Aliases): UsageEventInput | null {
  const a = span.attributes;
  const r = span.resource;
  // 1. Outcome: span status ERROR or error.type make an error; http.response.status_code when present.
  const errorType = text(a, ["error.type"]) || undefined;
  const failed = span.statusCode === 2 || errorType !== undefined;
  const httpStatus = count(a, ["http.response.status_code", "http.status_code"]);
  if (httpStatus !== undefined && (httpStatus < 100 || httpStatus > 599))
    throw new Reject(`http.response.status_code must be 100-599, got ${httpStatus}`);
  // 2. Usage. A model call without any usage is skipped unless it failed (a failed call is still a request).
  const input = count(a, al.inputTokens);
  const output = count(a, al.outputTokens);
  if (input === undefined && output === undefined && !failed) return null;
  // 3. Who and what.
  let provider = text(a, al.provider);
  if (dialect === "vercel-ai" && provider !== undefined) provider = provider.split(".")[0];
  const model = text(a, al.responseModel) ?? text(a, al.requestModel);
  if (provider === undefined || provider === "") throw new Reject(`no provider: none of ${al.provider.join(", ")} is set`);
  if (model === undefined || model === "")
    throw new Reject(`no model: none of ${[...al.responseModel, ...al.requestModel].join(", ")} is set`);
  // 4. Latency: the span itself; time to first chunk in seconds (GenAI) or milliseconds (Vercel).
  const ttfbS = number(a, al.ttfbSeconds);
  const ttfbMs = ttfbS !== undefined ? Math.round(ttfbS * 1000) : optionalRound(number(a, al.ttfbMs));
  const streamFlag = a.get(al.streaming.find((k) => typeof a.get(k) === "boolean") ?? "");
  const out: UsageEventInput = {
    event_id: spanEventId(span.traceId, span.spanId),
    event_time: new Date(Number(span.startNs / 1_000_000n)).toISOString(),
    provider,
    model,
    operation,
    input_tokens: input ?? 0,
    output_tokens: output ?? 0,
    duration_ms: Number((span.endNs - span.startNs) / 1_000_000n),
    status_code: httpStatus ?? (failed ? 500 : 200),
    streaming: ttfbMs !== undefined || streamFlag === true || /\.doStream$/.test(text(a, ["ai.operationId"]) ?? ""),
  };
  const optional: [keyof UsageEventInput, number | string | undefined][] = [
    ["cached_input_tokens", count(a, al.cacheReadTokens)],
    ["cache_write_tokens", count(a, al.cacheWriteTokens)],
    ["reasoning_tokens", count(a, al.reasoningTokens)],
    ["cost_usd", number(a, al.cost)],
    ["ttfb_ms", ttfbMs],
    ["error_code", errorType ?? (failed ? exceptionType(span) : undefined)],
    ["session_id", text(a, al.sessionId)],
    ["agent_id", text(a, al.agentId)],
    ["user_id", text(a, al.userId)],
    ["project_id", text(r, ["tokenmeter.project_id"]) ?? serviceName(r)],
    ["org_id", text(a, ["tokenmeter.org_id"]) ?? text(r, ["tokenmeter.org_id"])],
  ];
  for (const [k, v] of optional) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** service.name, unless it is the SDKs' placeholder for an unnamed service (`unknown_service:node`): no project beats a fake one. */
function serviceName(resource: Attributes): string | undefined {
  const name = text(resource, ["service.name"]);
  return name === undefined || name.startsWith("unknown_service") ? undefined : name;
}

/** The exception.type of the span's last exception event (how the SDKs record a thrown error). */
function exceptionType(span: OtlpSpan): string | undefined {
  for (let i = span.events.length - 1; i >= 0; i--) {
    const e = span.events[i];
    if (e?.name === "exception") {
      const t = e.attributes.get("exception.type");
      if (typeof t === "string" && t !== "") return t;
    }
  }
  return undefined;
}

function first(attrs: Attributes, keys: readonly string[]): [string, AttrValue] | undefined {
  for (const k of keys) {
    const v = attrs.get(k);
    if (v !== undefined && v !== null) return [k, v];
  }
  return undefined;
}

function text(attrs: Attributes, keys: readonly string[]): string | undefined {
  const hit = first(attrs, keys);
  if (hit === undefined) return undefined;
  const [k, v] = hit;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  throw new Reject(`${k} must be a string${v instanceof BadValue ? ` (${v.reason})` : ""}`);
}

/** A token count: intValue (number or string in JSON), an integral doubleValue, or a decimal stringValue. */
function count(attrs: Attributes, keys: readonly string[]): number | undefined {
  const hit = first(attrs, keys);
  if (hit === undefined) return undefined;
  const [k, v] = hit;
  const n = typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n === "number" && Number.isSafeInteger(n) && n >= 0) return n;
  throw new Reject(`${k} must be an integer >= 0, got ${describe(v)}`);
}

function number(attrs: Attributes, keys: readonly string[]): number | undefined {
  const hit = first(attrs, keys);
  if (hit === undefined) return undefined;
  const [k, v] = hit;
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  if (typeof n === "number" && Number.isFinite(n) && n >= 0) return n;
  throw new Reject(`${k} must be a number >= 0, got ${describe(v)}`);
}

function optionalRound(n: number | undefined): number | undefined {
  return n === undefined ? undefined : Math.round(n);
}

function describe(v: AttrValue): string {
  if (v instanceof BadValue) return `an undecodable value (${v.reason})`;
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) return "bytes";
  return JSON.stringify(v)?.slice(0, 40) ?? String(v);
}
