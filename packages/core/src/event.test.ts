import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ILL_FORMED_TEXT, isError, isWellFormedText, parseEventInputFast, UsageEventInput, validateEvent } from "./event.js";

const now = Date.parse("2026-06-01T12:00:00Z");
const base = {
  event_id: "6f1c1d1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f",
  event_time: "2026-06-01T11:59:00Z",
  org_id: "acme",
  provider: "OpenAI",
  model: "gpt-4o",
  input_tokens: 100,
  output_tokens: 20,
  status_code: 200,
};

describe("validateEvent", () => {
  it("accepts a minimal event and applies defaults", () => {
    const r = validateEvent(base, { now });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.event.provider).toBe("openai");
    expect(r.event.operation).toBe("chat");
    expect(r.event.cached_input_tokens).toBe(0);
    expect(r.event.cost_usd).toBeNull();
    expect(r.event.event_time_ms).toBe(Date.parse(base.event_time));
  });

  it("reports every bad field with its path", () => {
    const r = validateEvent({ ...base, input_tokens: -1, status_code: 700, tags: { a: 1 }, event_id: "x" }, { now });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.path).sort()).toEqual(["event_id", "input_tokens", "status_code", "tags.a"]);
  });

  it("rejects events too far in the future or older than the raw TTL", () => {
    const future = validateEvent({ ...base, event_time: "2026-06-01T12:06:00Z" }, { now });
    const old = validateEvent({ ...base, event_time: "2025-04-01T00:00:00Z" }, { now });
    expect(future.ok || future.errors[0]?.path).toBe("event_time");
    expect(old.ok || old.errors[0]?.path).toBe("event_time");
  });

  it("takes org_id from the credential and refuses a different one", () => {
    const own = validateEvent({ ...base, org_id: undefined }, { now, org_id: "acme" });
    expect(own.ok && own.event.org_id).toBe("acme");
    const other = validateEvent(base, { now, org_id: "globex" });
    expect(other.ok || other.errors).toEqual([{ path: "org_id", message: "does not match the credential's org" }]);
  });

  it("requires org_id when there is no credential (Kafka)", () => {
    const r = validateEvent({ ...base, org_id: undefined }, { now });
    expect(r.ok || r.errors[0]?.path).toBe("org_id");
  });

  it("enforces the OpenAI token convention and the tag limit", () => {
    const cached = validateEvent({ ...base, cached_input_tokens: 101 }, { now });
    expect(cached.ok || cached.errors[0]?.path).toBe("input_tokens");
    const tags = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, "v"]));
    const many = validateEvent({ ...base, tags }, { now });
    expect(many.ok || many.errors[0]?.path).toBe("tags");
  });

  it("rejects a lone surrogate in every string field, naming the field (the engine cannot store it)", () => {
    const fields = [
      "org_id",
      "project_id",
      "user_id",
      "agent_id",
      "session_id",
      "turn_id",
      "message_id",
      "provider",
      "model",
      "error_code",
    ];
    for (const field of fields) {
      for (const bad of ["\ud800", "a\udc00b", "x\ud83d"]) {
        const r = validateEvent({ ...base, [field]: bad }, { now });
        expect(r.ok || r.errors).toEqual([{ path: field, message: ILL_FORMED_TEXT }]);
      }
    }
    const value = validateEvent({ ...base, tags: { team: "\ud800" } }, { now });
    expect(value.ok || value.errors).toEqual([{ path: "tags.team", message: ILL_FORMED_TEXT }]);
    const key = validateEvent({ ...base, tags: { "team\udc00": "a" } }, { now });
    expect(key.ok || key.errors).toEqual([{ path: "tags.team\udc00", message: `key ${ILL_FORMED_TEXT}` }]);
  });

  it("accepts well-formed text beyond the BMP (surrogate pairs) and the replacement character", () => {
    const r = validateEvent(
      {
        ...base,
        agent_id: "bot-😀",
        model: "\ufffd",
        tags: { music: "𝄞" } /* v1.1: keys are [A-Za-z0-9_.:-], values any well-formed text */,
      },
      { now },
    );
    expect(r.ok && r.event.agent_id).toBe("bot-😀");
    expect(isWellFormedText("\ud83d\ude00")).toBe(true);
    expect(isWellFormedText("\ude00\ud83d")).toBe(false);
  });

  it("classifies errors by status or error_code", () => {
    expect(isError({ status_code: 200, error_code: "" })).toBe(false);
    expect(isError({ status_code: 429, error_code: "" })).toBe(true);
    expect(isError({ status_code: 200, error_code: "content_filter" })).toBe(true);
  });
});

describe("parseEventInputFast (the hot path in front of zod)", () => {
  const full = {
    ...base,
    project_id: "p",
    user_id: "u",
    agent_id: "a",
    session_id: "s",
    turn_id: "t",
    message_id: "m",
    call_sequence: 3,
    operation: "embedding",
    cached_input_tokens: 10,
    cache_write_tokens: 5,
    reasoning_tokens: 4,
    cost_usd: 0.0125,
    duration_ms: 900,
    ttfb_ms: 120,
    proxy_overhead_ms: 3,
    error_code: "",
    streaming: true,
    tags: { team: "search", "env.name": "prod" },
    extra_field: "stripped",
  };
  const tooMany = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, "v"]));
  const invalid: Record<string, unknown>[] = [
    { ...base, event_id: "not-a-uuid" },
    { ...base, event_time: "2026-06-01 11:59:00" },
    { ...base, event_time: "2026-02-30T00:00:00Z" },
    { ...base, org_id: "" },
    { ...base, org_id: "x".repeat(257) },
    { ...base, provider: "" },
    { ...base, model: 7 },
    { ...base, operation: "chat2" },
    { ...base, input_tokens: -1 },
    { ...base, input_tokens: 1.5 },
    { ...base, output_tokens: "20" },
    { ...base, cached_input_tokens: null },
    { ...base, call_sequence: -1 },
    { ...base, cost_usd: -0.1 },
    { ...base, duration_ms: 86_400_001 },
    { ...base, status_code: 99 },
    { ...base, status_code: 600 },
    { ...base, status_code: 200.5 },
    { ...base, streaming: "yes" },
    { ...base, error_code: "e".repeat(257) },
    { ...base, tags: { a: 1 } },
    { ...base, tags: ["a"] },
    { ...base, tags: tooMany },
    { ...base, tags: { ["k".repeat(129)]: "v" } },
    { ...base, tags: { k: "v".repeat(257) } },
    { ...base, provider: undefined },
    { ...base, org_id: "acme\ud800" },
    { ...base, provider: "\udc00" },
    { ...base, model: "gpt\ud83d" },
    { ...base, session_id: "\ud800" },
    { ...base, error_code: "rate\udfff" },
    { ...base, tags: { "k\ud800": "v" } },
    { ...base, tags: { k: "\udbff" } },
  ];

  it("accepts what zod accepts, with zod's output", () => {
    for (const input of [
      base,
      full,
      { ...base, org_id: undefined },
      { ...full, tags: {} },
      { ...base, event_time: "2026-06-01T13:59:00.123+02:00" },
    ]) {
      const fast = parseEventInputFast(input);
      expect(fast).not.toBeNull();
      expect(fast).toEqual(UsageEventInput.parse(input));
    }
  });

  it("leaves everything zod would refuse to zod, so its messages stay the errors reported", () => {
    for (const input of invalid) {
      expect(UsageEventInput.safeParse(input).success).toBe(false);
      expect(parseEventInputFast(input)).toBeNull();
      expect(validateEvent(input, { now }).ok).toBe(false);
    }
    expect(parseEventInputFast([base])).toBeNull();
    expect(parseEventInputFast(null)).toBeNull();
  });

  it("checks event_id and event_time with the schema's own patterns", () => {
    const shape = UsageEventInput.shape as unknown as Record<string, { _zod: { def: { pattern?: RegExp } } }>;
    expect(String(z.regexes.uuid())).toBe(String(shape.event_id!._zod.def.pattern));
    expect(String(z.regexes.datetime({ offset: true, local: false, precision: null }))).toBe(String(shape.event_time!._zod.def.pattern));
  });
});
