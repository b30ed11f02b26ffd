import { randomUUID } from "node:crypto";
import type { GenEvent } from "../testing/fixture.js";

/** One successful $0.25 call by agent "bot" at `at` (tests). */
export function testEvent(org: string, at: number, over: Partial<GenEvent> = {}): GenEvent {
  return {
    event_id: randomUUID(),
    event_time_ms: at,
    org_id: org,
    project_id: "web",
    user_id: "u1",
    agent_id: "bot",
    session_id: "",
    turn_id: "",
    message_id: "",
    call_sequence: null,
    provider: "openai",
    model: "gpt-4o",
    operation: "chat",
    input_tokens: 100,
    output_tokens: 50,
    cached_input_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    cost_usd: 0.25,
    duration_ms: 100,
    ttfb_ms: 10,
    proxy_overhead_ms: 1,
    status_code: 200,
    error_code: "",
    streaming: false,
    tags: {},
    cost: 0.25,
    cost_source: "reported",
    ...over,
  };
}
