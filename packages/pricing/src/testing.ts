import type { UsageEvent } from "@tokenmeter/core";

/** A made-up price list in LiteLLM's format: models and prices exist only in tests. */
export function madeUpDocument(overrides: Record<string, Record<string, unknown>> = {}): Record<string, unknown> {
  return {
    sample_spec: { input_cost_per_token: 0, litellm_provider: "one of ...", mode: "chat" },
    "acme-chat": { litellm_provider: "acme", mode: "chat", input_cost_per_token: 2e-6, output_cost_per_token: 8e-6 },
    "acme-cache": {
      litellm_provider: "acme",
      mode: "chat",
      input_cost_per_token: 3e-6,
      output_cost_per_token: 15e-6,
      cache_read_input_token_cost: 3e-7,
      cache_creation_input_token_cost: 3.75e-6,
    },
    "acme-think": {
      litellm_provider: "acme",
      mode: "chat",
      input_cost_per_token: 1.1e-6,
      output_cost_per_token: 4.4e-6,
      output_cost_per_reasoning_token: 9.9e-6,
    },
    "acme-long": {
      litellm_provider: "acme",
      mode: "chat",
      input_cost_per_token: 1.25e-6,
      output_cost_per_token: 10e-6,
      cache_read_input_token_cost: 3.1e-7,
      input_cost_per_token_above_200k_tokens: 2.5e-6,
      output_cost_per_token_above_200k_tokens: 15e-6,
      cache_read_input_token_cost_above_200k_tokens: 6.2e-7,
    },
    "globex/embed-1": { litellm_provider: "globex", mode: "embedding", input_cost_per_token: 1e-7, output_cost_per_token: 0 },
    "acme-image": { litellm_provider: "acme", mode: "image_generation", output_cost_per_image: 0.04 },
    ...overrides,
  };
}

/** A validated event with everything defaulted; tests set what they price. */
export function usageEvent(over: Partial<UsageEvent> = {}): UsageEvent {
  return {
    event_id: "00000000-0000-4000-8000-000000000001",
    event_time_ms: Date.parse("2026-06-01T12:00:00Z"),
    org_id: "org-a",
    project_id: "",
    user_id: "",
    agent_id: "",
    session_id: "",
    turn_id: "",
    message_id: "",
    call_sequence: null,
    provider: "acme",
    model: "acme-chat",
    operation: "chat",
    input_tokens: 0,
    output_tokens: 0,
    cached_input_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    cost_usd: null,
    duration_ms: null,
    ttfb_ms: null,
    proxy_overhead_ms: null,
    status_code: 200,
    error_code: "",
    streaming: false,
    tags: {},
    ...over,
  };
}
