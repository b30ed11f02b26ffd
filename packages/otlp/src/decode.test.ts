import { describe, expect, it } from "vitest";
import { spanEventId } from "./event-id.js";
import { decodeJsonExport } from "./json.js";
import { decodeProtobufExport, encodeProtobufExport } from "./protobuf.js";
import { BadValue, OtlpDecodeError } from "./span.js";

const jsonSpan = (extra: object = {}) => ({
  traceId: "5B8AA5A2D2C872E8321CF37308D69DF2",
  spanId: "051581bf3cb55c13",
  name: "chat",
  startTimeUnixNano: "1795168800000000000",
  endTimeUnixNano: 1795168801000000000,
  attributes: [
    { key: "a.int", value: { intValue: "9007199254740993" } },
    { key: "a.num", value: { intValue: 42 } },
    { key: "a.bad", value: { intValue: "4x" } },
    { key: "a.list", value: { arrayValue: { values: [{ stringValue: "x" }, { boolValue: true }] } } },
    { key: "a.map", value: { kvlistValue: { values: [{ key: "k", value: { doubleValue: 0.5 } }] } } },
  ],
  status: { code: "STATUS_CODE_ERROR", message: "boom" },
  ...extra,
});
const exportOf = (spans: object[]) => ({
  resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: "s", version: "1" }, spans }] }],
});

describe("OTLP/JSON decoding", () => {
  it("reads hex ids (any case), int64 as number or string, nested values, enum names; keeps an undecodable value as BadValue", () => {
    const { spans, errors } = decodeJsonExport(JSON.stringify(exportOf([jsonSpan()])));
    expect(errors).toEqual([]);
    const s = spans[0]!;
    expect([s.traceId, s.spanId, s.statusCode, s.scopeName]).toEqual(["5b8aa5a2d2c872e8321cf37308d69df2", "051581bf3cb55c13", 2, "s"]);
    expect(s.endNs - s.startNs).toBe(1_000_000_000n);
    expect(s.attributes.get("a.int")).toBe(9007199254740993n);
    expect(s.attributes.get("a.num")).toBe(42);
    expect(s.attributes.get("a.bad")).toBeInstanceOf(BadValue);
    expect(s.attributes.get("a.list")).toEqual(["x", true]);
    expect({ ...(s.attributes.get("a.map") as object) }).toEqual({ k: 0.5 });
  });

  it("keeps a kvlist key named __proto__ as data", () => {
    const kv = { key: "m", value: { kvlistValue: { values: [{ key: "__proto__", value: { stringValue: "x" } }] } } };
    const { spans } = decodeJsonExport(JSON.stringify(exportOf([jsonSpan({ attributes: [kv] })])));
    const m = spans[0]!.attributes.get("m") as Record<string, unknown>;
    expect(Object.getPrototypeOf(m)).toBeNull();
    expect(Object.keys(m)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it("rejects a span, not the export, for wrong ids or times; a wrong envelope is an OtlpDecodeError", () => {
    const { spans, errors } = decodeJsonExport(
      JSON.stringify(exportOf([jsonSpan({ spanId: "zz" }), jsonSpan({ endTimeUnixNano: "1" }), jsonSpan()])),
    );
    expect(spans).toHaveLength(1);
    expect(errors.map((e) => e.reason)).toEqual([
      "spanId must be 8 bytes (16 hex digits in JSON)",
      "endTimeUnixNano is before startTimeUnixNano",
    ]);
    expect(errors[0]!.path).toBe("resourceSpans[0].scopeSpans[0].spans[0]");
    expect(() => decodeJsonExport("[1]")).toThrow(OtlpDecodeError);
    expect(() => decodeJsonExport('{"resourceSpans":[{"scopeSpans":{}}]}')).toThrow(/scopeSpans must be an array/);
  });
});

describe("OTLP protobuf decoding", () => {
  it("round-trips through the vendored definitions: bytes ids, fixed64 times, int64 attributes", () => {
    const body = encodeProtobufExport({
      resourceSpans: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: "svc" } }] },
          scopeSpans: [
            {
              spans: [
                {
                  traceId: Buffer.from("5b8aa5a2d2c872e8321cf37308d69df2", "hex"),
                  spanId: Buffer.from("051581bf3cb55c13", "hex"),
                  startTimeUnixNano: "1795168800000000000",
                  endTimeUnixNano: "1795168800250000000",
                  attributes: [
                    { key: "small", value: { intValue: 7 } },
                    { key: "big", value: { intValue: "-9007199254740993" } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const { spans, errors } = decodeProtobufExport(body);
    expect(errors).toEqual([]);
    expect(spans[0]).toMatchObject({ traceId: "5b8aa5a2d2c872e8321cf37308d69df2", parentSpanId: "", startNs: 1795168800000000000n });
    expect(spans[0]!.attributes.get("small")).toBe(7);
    expect(spans[0]!.attributes.get("big")).toBe(-9007199254740993n);
    expect(spans[0]!.resource.get("service.name")).toBe("svc");
  });

  it("throws OtlpDecodeError on a truncated body", () => {
    const body = encodeProtobufExport({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: "x".repeat(50) }] }] }] });
    expect(() => decodeProtobufExport(body.subarray(0, body.length - 10))).toThrow(OtlpDecodeError);
  });
});

describe("spanEventId", () => {
  it("is a deterministic UUIDv8 of (trace_id, span_id), case-insensitive, different for another span", () => {
    const a = spanEventId("5b8aa5a2d2c872e8321cf37308d69df2", "051581bf3cb55c13");
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(spanEventId("5B8AA5A2D2C872E8321CF37308D69DF2", "051581BF3CB55C13")).toBe(a);
    expect(spanEventId("5b8aa5a2d2c872e8321cf37308d69df2", "051581bf3cb55c14")).not.toBe(a);
  });
});
