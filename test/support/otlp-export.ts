import { randomBytes } from "node:crypto";

/** An OTLP/JSON attribute list from a plain object (integers as intValue, other numbers as doubleValue). */
export function otlpAttributes(attrs: Record<string, string | number | boolean>) {
  return Object.entries(attrs).map(([key, v]) => ({
    key,
    value:
      typeof v === "string"
        ? { stringValue: v }
        : typeof v === "boolean"
          ? { boolValue: v }
          : Number.isInteger(v)
            ? { intValue: v }
            : { doubleValue: v },
  }));
}

/** One OTLP/JSON span with fresh ids, starting at `startMs`. */
export function otlpSpan(
  name: string,
  startMs: number,
  durationMs: number,
  attrs: Record<string, string | number | boolean>,
  extra: object = {},
) {
  return {
    traceId: randomBytes(16).toString("hex"),
    spanId: randomBytes(8).toString("hex"),
    name,
    kind: 3,
    startTimeUnixNano: (BigInt(startMs) * 1_000_000n).toString(),
    endTimeUnixNano: (BigInt(startMs + durationMs) * 1_000_000n).toString(),
    attributes: otlpAttributes(attrs),
    status: {},
    ...extra,
  };
}

/** A chat span following the GenAI conventions. */
export function chatSpan(startMs: number, input = 100, output = 20, extra: Record<string, string | number | boolean> = {}) {
  return otlpSpan("chat gpt-4o", startMs, 800, {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": input,
    "gen_ai.usage.output_tokens": output,
    ...extra,
  });
}

/** ExportTraceServiceRequest in OTLP/JSON form (ids hex); encodeProtobufExport takes the same object. */
export function otlpExport(spans: object[], resource: Record<string, string> = { "service.name": "test-app" }) {
  return { resourceSpans: [{ resource: { attributes: otlpAttributes(resource) }, scopeSpans: [{ scope: { name: "test" }, spans }] }] };
}

/** The same export with ids as bytes, as protobufjs encodes them. */
export function toProtobufShape(exp: { resourceSpans: { scopeSpans: { spans: object[] }[] }[] }) {
  return {
    resourceSpans: exp.resourceSpans.map((rs) => ({
      ...rs,
      scopeSpans: rs.scopeSpans.map((ss) => ({
        ...ss,
        spans: ss.spans.map((s) => {
          const span = s as { traceId: string; spanId: string; parentSpanId?: string };
          const parent = span.parentSpanId ? { parentSpanId: hexBytes(span.parentSpanId) } : {};
          return { ...span, traceId: hexBytes(span.traceId), spanId: hexBytes(span.spanId), ...parent };
        }),
      })),
    })),
  };
}

function hexBytes(hex: string): Buffer {
  return /^[0-9a-f]*$/i.test(hex) && hex.length % 2 === 0 ? Buffer.from(hex, "hex") : Buffer.from(hex);
}
