import { validateEvent } from "@tokenmeter/core";
import { describe, expect, it } from "vitest";
import { toEventMessage } from "./event-sink.js";

describe("Kafka sink wire form", () => {
  it("re-validates to the same normalized event, keyed by event_id", () => {
    const now = Date.parse("2026-06-01T12:00:00Z");
    for (const raw of [
      {
        event_id: "6f1c1d1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f",
        event_time: "2026-06-01T11:59:00.123Z",
        org_id: "acme",
        provider: "OpenAI",
        model: "gpt-4o",
        input_tokens: 10,
        output_tokens: 2,
        status_code: 200,
      },
      {
        event_id: "7f1c1d1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f",
        event_time: "2026-06-01T13:59:00+02:00",
        org_id: "acme",
        project_id: "p",
        user_id: "u",
        agent_id: "a",
        session_id: "s",
        call_sequence: 0,
        provider: "anthropic",
        model: "claude",
        operation: "embedding" as const,
        input_tokens: 100,
        output_tokens: 20,
        cached_input_tokens: 30,
        cache_write_tokens: 5,
        reasoning_tokens: 10,
        cost_usd: 0,
        duration_ms: 0,
        ttfb_ms: 5,
        proxy_overhead_ms: 1,
        status_code: 429,
        error_code: "rate_limited",
        streaming: true,
        tags: { team: "x" },
      },
    ]) {
      const first = validateEvent(raw, { now });
      if (!first.ok) throw new Error("fixture invalid");
      const m = toEventMessage(first.event);
      expect(m.key).toBe(first.event.event_id);
      const again = validateEvent(JSON.parse(String(m.value)), { now });
      expect(again.ok && again.event).toEqual(first.event);
    }
  });
});
