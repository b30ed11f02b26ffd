/**
 * One decoded OTLP span with what the mapping needs, independent of the wire
 * encoding (protobuf or JSON). Attribute values keep their OTLP type; a value
 * that could not be decoded is a {@link BadValue}, so an unrelated broken
 * attribute never costs the span, while a broken one the mapping needs
 * rejects it with the reason.
 */
export interface OtlpSpan {
  /** 32 lower-case hex digits. */
  traceId: string;
  /** 16 lower-case hex digits. */
  spanId: string;
  parentSpanId: string;
  name: string;
  startNs: bigint;
  endNs: bigint;
  /** 0 unset, 1 ok, 2 error (OTLP Status.StatusCode). */
  statusCode: number;
  statusMessage: string;
  attributes: Attributes;
  events: SpanEvent[];
  resource: Attributes;
  scopeName: string;
  scopeVersion: string;
}

export interface SpanEvent {
  name: string;
  timeNs: bigint;
  attributes: Attributes;
}

export type AttrValue = string | number | boolean | bigint | Uint8Array | AttrValue[] | { [key: string]: AttrValue } | BadValue | null;
export type Attributes = Map<string, AttrValue>;

/** An attribute whose value did not decode (wrong type in OTLP/JSON): kept with the reason. */
export class BadValue {
  constructor(readonly reason: string) {}
}

/** One span of an export that could not be decoded, with where it is and why. */
export interface SpanDecodeError {
  /** `resourceSpans[i].scopeSpans[j].spans[k]`. */
  path: string;
  reason: string;
}

/** What a request body decodes to: every span that decoded, and why the others did not. */
export interface DecodedExport {
  spans: OtlpSpan[];
  errors: SpanDecodeError[];
}

/** The request body could not be decoded at all (OTLP answers 400, not retryable). */
export class OtlpDecodeError extends Error {
  override readonly name = "OtlpDecodeError";
}
