import { ApiError } from "@tokenmeter/http";
import { describe, expect, it } from "vitest";
import { invalidUtf8Lines, parseEventsBody } from "./body.js";
import { jsonErrorPosition } from "./json-position.js";

describe("jsonErrorPosition", () => {
  it("finds the first bad character, 1-based line and column", () => {
    expect(jsonErrorPosition('{"event_id": oops}')).toEqual({ position: 13, line: 1, column: 14 });
    expect(jsonErrorPosition('[\n  {"a": "x",\n   "b": }\n]')).toMatchObject({ line: 3, column: 9 });
    expect(jsonErrorPosition('{"a":1}{').position).toBe(7);
    expect(jsonErrorPosition("[1,]").position).toBe(3);
    expect(jsonErrorPosition('{"a" 1}').position).toBe(5);
    expect(jsonErrorPosition('"\\u12"').position).toBe(2);
    expect(jsonErrorPosition("[01]").position).toBe(2);
  });

  it("points past the end of a truncated text and survives deep nesting", () => {
    expect(jsonErrorPosition("[1,2").position).toBe(4);
    expect(jsonErrorPosition("[".repeat(100_000)).position).toBe(100_000);
  });

  it("reports -1 for valid JSON", () => {
    for (const ok of ["{}", "[]", '[{"a":[1,{"b":null}]},true,-1.5e3,"\\u00e9\\n"]']) expect(jsonErrorPosition(ok).position).toBe(-1);
  });
});

describe("parseEventsBody", () => {
  it("takes a JSON array, one object, or NDJSON", () => {
    expect(parseEventsBody('[{"a":1},{"a":2}]', "application/json")).toEqual([
      { ok: true, value: { a: 1 } },
      { ok: true, value: { a: 2 } },
    ]);
    expect(parseEventsBody('{"a":1}', "")).toEqual([{ ok: true, value: { a: 1 } }]);
    expect(parseEventsBody('{"a":1}\n{"a":2}\n', "application/x-ndjson")).toHaveLength(2);
    // A pretty-printed single object is one document, not NDJSON.
    expect(parseEventsBody('{\n  "a": 1\n}', "application/json")).toEqual([{ ok: true, value: { a: 1 } }]);
  });

  it("detects NDJSON sent with a generic content type", () => {
    expect(parseEventsBody('{"a":1}\n{"a":2}', "application/json")).toEqual([
      { ok: true, value: { a: 1 } },
      { ok: true, value: { a: 2 } },
    ]);
  });

  it("turns a broken NDJSON line into a rejected item, keeping indexes", () => {
    const items = parseEventsBody('{"a":1}\n\n{"a":\n{"a":3}', "application/x-ndjson");
    expect(items.map((i) => i.ok)).toEqual([true, false, true]);
    expect(items[1]).toMatchObject({
      ok: false,
      error: { path: "(line)", message: expect.stringMatching(/^line 3: malformed JSON at column 6:/) },
    });
  });

  it("rejects an NDJSON line that is not UTF-8, and a JSON document with such bytes, never decoding them to U+FFFD", () => {
    const body = Buffer.concat([Buffer.from('{"a":1}\n{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n{"a":"é😀"}\n')]);
    expect([...invalidUtf8Lines(body)]).toEqual([1]);
    const items = parseEventsBody(body.toString("utf8"), "application/x-ndjson", invalidUtf8Lines(body));
    expect(items).toEqual([
      { ok: true, value: { a: 1 } },
      { ok: false, error: { path: "(line)", message: "line 2: not valid UTF-8" } },
      { ok: true, value: { a: "é😀" } },
    ]);
    const doc = Buffer.concat([Buffer.from('[{"a":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}]')]);
    expect(() => parseEventsBody(doc.toString("utf8"), "application/json", invalidUtf8Lines(doc))).toThrow(/not valid UTF-8/);
    expect(invalidUtf8Lines(Buffer.from("plain\n€\n")).size).toBe(0);
  });

  it("refuses a malformed document with where it broke", () => {
    try {
      parseEventsBody('[{"a":1},\n {"a":}]', "application/json");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      expect(err).toMatchObject({ code: "invalid_json", details: { line: 2, column: 7 } });
    }
    expect(() => parseEventsBody("true", "application/json")).toThrow(/JSON array of events/);
  });
});
