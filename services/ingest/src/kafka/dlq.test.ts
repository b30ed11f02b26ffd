import { describe, expect, it } from "vitest";
import { classifyMessage, DLQ_HEADERS, parseDlqMessage, toDlqMessage } from "./dlq.js";

const now = Date.parse("2026-06-01T12:00:00Z");
const event = {
  event_id: "6f1c1d1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f",
  event_time: "2026-06-01T11:59:00Z",
  org_id: "acme",
  provider: "openai",
  model: "gpt-4o",
  input_tokens: 10,
  output_tokens: 2,
  status_code: 200,
};
const classify = (v: Buffer | null) => classifyMessage(v, { now, maxBytes: 1_000 });

describe("classifyMessage", () => {
  it("accepts a valid event (org_id required on Kafka)", () => {
    expect(classify(Buffer.from(JSON.stringify(event))).ok).toBe(true);
    const noOrg = classify(Buffer.from(JSON.stringify({ ...event, org_id: undefined })));
    expect(noOrg.ok || noOrg.drop).toEqual({ kind: "invalid", errors: [{ path: "org_id", message: "is required" }] });
  });

  it("drops empty, oversized, undecodable and non-object messages with a kind and a path", () => {
    const kinds = [null, Buffer.alloc(0), Buffer.alloc(1_001, 32), Buffer.from("{nope"), Buffer.from("[1]"), Buffer.from("42")].map((v) => {
      const c = classify(v);
      return c.ok ? "ok" : `${c.drop.kind}:${c.drop.errors[0]?.path}`;
    });
    expect(kinds).toEqual([
      "empty:(message)",
      "empty:(message)",
      "too_large:(message)",
      "undecodable:(message)",
      "invalid:(event)",
      "invalid:(event)",
    ]);
  });

  it("agrees with HTTP on text: bytes that are not UTF-8 and lone surrogates are dropped, never stored altered", () => {
    const json = JSON.stringify({ ...event, model: "gpt-4o-X" });
    const bytes = Buffer.from(json);
    bytes[json.indexOf("X")] = 0xff;
    expect(classify(bytes)).toEqual({
      ok: false,
      drop: { kind: "undecodable", errors: [{ path: "(message)", message: "not valid UTF-8" }] },
    });
    const surrogate = classify(Buffer.from(JSON.stringify({ ...event, session_id: "\ud800" })));
    expect(surrogate.ok || surrogate.drop.errors.map((e) => e.path)).toEqual(["session_id"]);
  });

  it("reports every wrong field at once", () => {
    const c = classify(Buffer.from(JSON.stringify({ ...event, input_tokens: "10", status_code: 7 })));
    expect(c.ok || c.drop.errors.map((e) => e.path)).toEqual(["input_tokens", "status_code"]);
  });
});

describe("DLQ message", () => {
  it("keeps the original bytes and key, carries the reason and source, and reads back", () => {
    const value = Buffer.from("{nope");
    const drop = { kind: "undecodable" as const, errors: [{ path: "(message)", message: "not JSON" }] };
    const m = toDlqMessage({ topic: "llm.usage.v1", partition: 3, offset: "42" }, { key: null, value }, drop, now);
    expect(m.value).toBe(value);
    expect(m.key).toBe("llm.usage.v1:3:42");
    expect(m.headers?.[DLQ_HEADERS.failedAt]).toBe("2026-06-01T12:00:00.000Z");
    const headers = Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, Buffer.from(String(v))]));
    const back = parseDlqMessage(0, { offset: "7", key: Buffer.from(String(m.key)), value, headers });
    expect(back).toMatchObject({
      partition: 0,
      offset: "7",
      kind: "undecodable",
      errors: drop.errors,
      source: { topic: "llm.usage.v1", partition: 3, offset: "42" },
    });
  });
});
