import { type Attributes, type AttrValue, BadValue, type DecodedExport, OtlpDecodeError, type OtlpSpan, type SpanEvent } from "./span.js";

/**
 * Walks an export request as protobufjs decodes it or as OTLP/JSON parses
 * (both use the lowerCamelCase field names of the proto; snake_case is taken
 * from JSON too, as the spec allows). A wrong shape of the envelope is an
 * {@link OtlpDecodeError}; a wrong span only costs that span.
 */
export function normalizeExport(root: unknown): DecodedExport {
  const out: DecodedExport = { spans: [], errors: [] };
  if (!isObject(root)) throw new OtlpDecodeError("the export must be an object (ExportTraceServiceRequest)");
  const resourceSpans = list(field(root, "resourceSpans", "resource_spans"), "resourceSpans");
  resourceSpans.forEach((rs, i) => {
    if (!isObject(rs)) throw new OtlpDecodeError(`resourceSpans[${i}] must be an object`);
    const resourceRaw = field(rs, "resource");
    const resource = attributes(isObject(resourceRaw) ? field(resourceRaw, "attributes") : undefined);
    list(field(rs, "scopeSpans", "scope_spans"), `resourceSpans[${i}].scopeSpans`).forEach((ss, j) => {
      if (!isObject(ss)) throw new OtlpDecodeError(`resourceSpans[${i}].scopeSpans[${j}] must be an object`);
      const scope = field(ss, "scope");
      const scopeName = isObject(scope) ? str(field(scope, "name")) : "";
      const scopeVersion = isObject(scope) ? str(field(scope, "version")) : "";
      list(field(ss, "spans"), `resourceSpans[${i}].scopeSpans[${j}].spans`).forEach((raw, k) => {
        const path = `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`;
        try {
          out.spans.push(span(raw, resource, scopeName, scopeVersion));
        } catch (err) {
          if (!(err instanceof SpanError)) throw err;
          out.errors.push({ path, reason: err.message });
        }
      });
    });
  });
  return out;
}

class SpanError extends Error {}

function span(raw: unknown, resource: Attributes, scopeName: string, scopeVersion: string): OtlpSpan {
  if (!isObject(raw)) throw new SpanError("span must be an object");
  const traceId = id(field(raw, "traceId", "trace_id"), 16, "traceId");
  const spanId = id(field(raw, "spanId", "span_id"), 8, "spanId");
  const parent = field(raw, "parentSpanId", "parent_span_id");
  // protobufjs leaves an absent bytes field as its default, an empty array.
  const empty =
    parent === undefined ||
    parent === null ||
    ((typeof parent === "string" || Array.isArray(parent) || parent instanceof Uint8Array) && parent.length === 0);
  const parentSpanId = empty ? "" : id(parent, 8, "parentSpanId");
  const startNs = nanos(field(raw, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano");
  const endNs = nanos(field(raw, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano");
  if (startNs === 0n) throw new SpanError("startTimeUnixNano is missing");
  if (endNs < startNs) throw new SpanError("endTimeUnixNano is before startTimeUnixNano");
  const name = field(raw, "name");
  if (name !== undefined && typeof name !== "string") throw new SpanError("name must be a string");
  const status = field(raw, "status");
  let statusCode = 0;
  let statusMessage = "";
  if (status !== undefined && status !== null) {
    if (!isObject(status)) throw new SpanError("status must be an object");
    statusCode = statusCodeOf(field(status, "code"));
    statusMessage = str(field(status, "message"));
  }
  const events: SpanEvent[] = [];
  const rawEvents = field(raw, "events");
  if (rawEvents !== undefined && rawEvents !== null) {
    if (!Array.isArray(rawEvents)) throw new SpanError("events must be an array");
    for (const e of rawEvents) {
      if (!isObject(e)) continue;
      events.push({
        name: str(field(e, "name")),
        timeNs: safeNanos(field(e, "timeUnixNano", "time_unix_nano")),
        attributes: attributes(field(e, "attributes")),
      });
    }
  }
  const attrs = field(raw, "attributes");
  if (attrs !== undefined && attrs !== null && !Array.isArray(attrs)) throw new SpanError("attributes must be an array of {key, value}");
  return {
    traceId,
    spanId,
    parentSpanId,
    name: name ?? "",
    startNs,
    endNs,
    statusCode,
    statusMessage,
    attributes: attributes(attrs),
    events,
    resource,
    scopeName,
    scopeVersion,
  };
}

const STATUS_NAMES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

function statusCodeOf(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === "number" && (v === 0 || v === 1 || v === 2)) return v;
  if (typeof v === "string" && v in STATUS_NAMES) return STATUS_NAMES[v] as number;
  throw new SpanError(`status.code must be 0, 1, 2 or STATUS_CODE_*, got ${JSON.stringify(v)}`);
}

/** Key/value list → map; a later duplicate key wins, as in the SDKs. Entries without a string key are ignored. */
export function attributes(raw: unknown): Attributes {
  const out: Attributes = new Map();
  if (!Array.isArray(raw)) return out;
  for (const kv of raw) {
    if (!isObject(kv)) continue;
    const key = field(kv, "key");
    if (typeof key !== "string") continue;
    out.set(key, anyValue(field(kv, "value"), 0));
  }
  return out;
}

const ONEOF = ["stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue", "bytesValue"] as const;
const SNAKE: Record<string, (typeof ONEOF)[number]> = {
  string_value: "stringValue",
  bool_value: "boolValue",
  int_value: "intValue",
  double_value: "doubleValue",
  array_value: "arrayValue",
  kvlist_value: "kvlistValue",
  bytes_value: "bytesValue",
};

/** OTLP AnyValue → a plain value. protobufjs names the set oneof member in `value`; JSON just has the key. */
function anyValue(v: unknown, depth: number): AttrValue {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) return new BadValue("value must be an AnyValue object");
  if (depth > 16) return new BadValue("value nested too deep");
  const named = (v as { value?: unknown }).value;
  let which: string | undefined = typeof named === "string" && (ONEOF as readonly string[]).includes(named) ? named : undefined;
  let raw: unknown;
  if (which !== undefined) raw = (v as Record<string, unknown>)[which];
  else {
    for (const k of Object.keys(v)) {
      const name = (ONEOF as readonly string[]).includes(k) ? k : SNAKE[k];
      if (name !== undefined) {
        which = name;
        raw = (v as Record<string, unknown>)[k];
        break;
      }
    }
  }
  switch (which) {
    case undefined:
      return null;
    case "stringValue":
      return typeof raw === "string" ? raw : new BadValue("stringValue must be a string");
    case "boolValue":
      return typeof raw === "boolean" ? raw : new BadValue("boolValue must be a boolean");
    case "intValue":
      return intValue(raw);
    case "doubleValue":
      if (typeof raw === "number") return raw;
      if (raw === "NaN" || raw === "Infinity" || raw === "-Infinity") return Number(raw);
      return new BadValue("doubleValue must be a number");
    case "bytesValue":
      if (raw instanceof Uint8Array) return raw;
      return typeof raw === "string" ? new Uint8Array(Buffer.from(raw, "base64")) : new BadValue("bytesValue must be base64");
    case "arrayValue": {
      const values = isObject(raw) ? field(raw, "values") : undefined;
      if (values !== undefined && !Array.isArray(values)) return new BadValue("arrayValue.values must be an array");
      return (values ?? []).map((x) => anyValue(x, depth + 1));
    }
    default: {
      const values = isObject(raw) ? field(raw, "values") : undefined;
      if (values !== undefined && !Array.isArray(values)) return new BadValue("kvlistValue.values must be an array");
      // No prototype: a key named __proto__ is data here, never a prototype change.
      const obj: Record<string, AttrValue> = Object.create(null);
      for (const kv of values ?? []) {
        if (isObject(kv) && typeof field(kv, "key") === "string") obj[field(kv, "key") as string] = anyValue(field(kv, "value"), depth + 1);
      }
      return obj;
    }
  }
}

/** int64: a number or a decimal string in JSON, a Long (or number) from protobufjs. Safe integers become numbers. */
function intValue(raw: unknown): AttrValue {
  let big: bigint;
  if (typeof raw === "number") {
    if (!Number.isInteger(raw)) return new BadValue("intValue must be an integer");
    return raw;
  }
  if (typeof raw === "string" && /^-?\d{1,20}$/.test(raw)) big = BigInt(raw);
  else if (isLong(raw)) {
    // Small values (every token count) without BigInt: Long.toString was a visible cost per attribute.
    if (raw.high === 0 && raw.low >= 0) return raw.low;
    big = longToBigInt(raw);
  } else return new BadValue("intValue must be an integer or a decimal string");
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

function nanos(raw: unknown, name: string): bigint {
  if (raw === undefined || raw === null) return 0n;
  if (typeof raw === "number" && Number.isInteger(raw) && raw >= 0) return BigInt(raw);
  if (typeof raw === "string" && /^\d{1,20}$/.test(raw)) return BigInt(raw);
  if (isLong(raw)) return BigInt.asUintN(64, longToBigInt(raw));
  throw new SpanError(`${name} must be an unsigned integer (nanoseconds since the epoch), as a number or a decimal string`);
}

function safeNanos(raw: unknown): bigint {
  try {
    return nanos(raw, "timeUnixNano");
  } catch {
    return 0n;
  }
}

/** Trace and span ids: bytes from protobuf; hex in OTLP/JSON (base64 taken too, as some older exporters send it). */
function id(raw: unknown, bytes: number, name: string): string {
  let hex: string | undefined;
  if (raw instanceof Uint8Array) hex = raw.length === bytes ? Buffer.from(raw).toString("hex") : undefined;
  else if (typeof raw === "string") {
    if (raw.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(raw)) hex = raw.toLowerCase();
    else if (raw.length === Math.ceil(bytes / 3) * 4 && /^[A-Za-z0-9+/]+=*$/.test(raw)) {
      const b = Buffer.from(raw, "base64");
      if (b.length === bytes) hex = b.toString("hex");
    }
  }
  if (hex === undefined) throw new SpanError(`${name} must be ${bytes} bytes (${bytes * 2} hex digits in JSON)`);
  if (/^0+$/.test(hex)) throw new SpanError(`${name} must not be all zeros`);
  return hex;
}

/** Long (low/high 32-bit halves, signed unless `unsigned`) → BigInt, without going through a decimal string. */
function longToBigInt(v: { low: number; high: number; unsigned?: boolean }): bigint {
  const u = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return v.unsigned ? u : BigInt.asIntN(64, u);
}

function isLong(v: unknown): v is { low: number; high: number; unsigned?: boolean } {
  return isObject(v) && typeof (v as { low?: unknown }).low === "number" && typeof (v as { high?: unknown }).high === "number";
}

function isObject(v: unknown): v is object {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A field by its proto JSON name, else its snake_case name (JSON only). */
function field(o: object, camel: string, snake?: string): unknown {
  const r = o as Record<string, unknown>;
  const v = r[camel];
  return v === undefined && snake !== undefined ? r[snake] : v;
}

function list(v: unknown, where: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpDecodeError(`${where} must be an array`);
  return v;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}
