import { readFileSync } from "node:fs";

/**
 * The GenAI spans every real-exporter test sends (JS SDK and the Java
 * program in test/java/otlp build the same ones): what an agent runtime
 * following the GenAI semantic conventions emits for one turn. Offsets are
 * relative to a base instant the test picks.
 */
export interface ScenarioSpan {
  name: string;
  startOffsetMs: number;
  durationMs: number;
  attributes: Record<string, string | number>;
  /** Span status ERROR with this message. */
  error?: string;
}

export const SCENARIO: ScenarioSpan[] = [
  {
    name: "chat claude-sonnet-4-20250514",
    startOffsetMs: 0,
    durationMs: 1_500,
    attributes: {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "anthropic",
      "gen_ai.request.model": "claude-sonnet-4",
      "gen_ai.response.model": "claude-sonnet-4-20250514",
      "gen_ai.usage.input_tokens": 2_000,
      "gen_ai.usage.cache_read.input_tokens": 1_000,
      "gen_ai.usage.cache_creation.input_tokens": 300,
      "gen_ai.usage.output_tokens": 500,
      "gen_ai.usage.reasoning.output_tokens": 200,
      "gen_ai.conversation.id": "conv-1",
      "gen_ai.agent.id": "agent-support",
      "user.id": "user-7",
    },
  },
  {
    name: "embeddings text-embedding-3-small",
    startOffsetMs: 2_000,
    durationMs: 120,
    attributes: {
      "gen_ai.operation.name": "embeddings",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "text-embedding-3-small",
      "gen_ai.usage.input_tokens": 300,
      "gen_ai.agent.id": "agent-support",
    },
  },
  {
    name: "chat gpt-4o",
    startOffsetMs: 3_000,
    durationMs: 50,
    attributes: {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o",
      "error.type": "rate_limit_exceeded",
      "http.response.status_code": 429,
      "gen_ai.agent.id": "agent-support",
    },
    error: "429 Too Many Requests",
  },
  {
    name: "execute_tool get_weather",
    startOffsetMs: 4_000,
    durationMs: 30,
    attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather" },
  },
  {
    // An agent wrapper repeating its children's usage: counting it would double the tokens.
    name: "invoke_agent support",
    startOffsetMs: -100,
    durationMs: 8_000,
    attributes: {
      "gen_ai.operation.name": "invoke_agent",
      "gen_ai.agent.name": "support",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o",
      "gen_ai.usage.input_tokens": 3_500,
      "gen_ai.usage.output_tokens": 800,
    },
  },
  {
    name: "chat gpt-4o-2024-08-06",
    startOffsetMs: 5_000,
    durationMs: 2_000,
    attributes: {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o",
      "gen_ai.response.model": "gpt-4o-2024-08-06",
      "gen_ai.usage.input_tokens": 1_200,
      "gen_ai.usage.cache_read.input_tokens": 1_024,
      "gen_ai.usage.output_tokens": 300,
      "gen_ai.response.time_to_first_chunk": 0.35,
      "gen_ai.agent.id": "agent-support",
    },
  },
];

/** The usage events the scenario must produce, as /v1/events would take them (null: skipped). */
export function expectedEvent(s: ScenarioSpan) {
  const a = s.attributes;
  const op = a["gen_ai.operation.name"];
  if (op === "execute_tool" || op === "invoke_agent") return null;
  const num = (k: string) => (typeof a[k] === "number" ? (a[k] as number) : 0);
  return {
    provider: String(a["gen_ai.provider.name"]),
    model: String(a["gen_ai.response.model"] ?? a["gen_ai.request.model"]),
    operation: op === "embeddings" ? "embedding" : "chat",
    input_tokens: num("gen_ai.usage.input_tokens"),
    output_tokens: num("gen_ai.usage.output_tokens"),
    cached_input_tokens: num("gen_ai.usage.cache_read.input_tokens"),
    cache_write_tokens: num("gen_ai.usage.cache_creation.input_tokens"),
    reasoning_tokens: num("gen_ai.usage.reasoning.output_tokens"),
    duration_ms: s.durationMs,
    ttfb_ms: a["gen_ai.response.time_to_first_chunk"] === undefined ? null : Math.round(num("gen_ai.response.time_to_first_chunk") * 1000),
    status_code: a["http.response.status_code"] === undefined ? 200 : num("http.response.status_code"),
    error_code: typeof a["error.type"] === "string" ? a["error.type"] : "",
  };
}

type Prices = Record<string, Record<string, number>>;
const prices: Prices = JSON.parse(readFileSync(new URL("../../packages/pricing/snapshot/litellm-snapshot.json", import.meta.url), "utf8"));

/** DESIGN's cost formula with the bundled snapshot's prices: an oracle independent of the pricing code. */
export function expectedCost(e: NonNullable<ReturnType<typeof expectedEvent>>): number {
  const p = prices[e.model];
  if (!p) throw new Error(`no bundled price for ${e.model}`);
  const uncached = e.input_tokens - e.cached_input_tokens - e.cache_write_tokens;
  return (
    uncached * (p.input_cost_per_token ?? 0) +
    e.cached_input_tokens * (p.cache_read_input_token_cost ?? p.input_cost_per_token ?? 0) +
    e.cache_write_tokens * (p.cache_creation_input_token_cost ?? p.input_cost_per_token ?? 0) +
    e.output_tokens * (p.output_cost_per_token ?? 0)
  );
}

/** Totals the analytics endpoints must report for one export of the scenario. */
export function expectedTotals() {
  const events = SCENARIO.map(expectedEvent).filter((e) => e !== null);
  const sum = (f: (e: (typeof events)[number]) => number) => events.reduce((s, e) => s + f(e), 0);
  return {
    requests: events.length,
    errors: events.filter((e) => e.status_code >= 400 || e.error_code !== "").length,
    input_tokens: sum((e) => e.input_tokens),
    output_tokens: sum((e) => e.output_tokens),
    cached_input_tokens: sum((e) => e.cached_input_tokens),
    reasoning_tokens: sum((e) => e.reasoning_tokens),
    cost_usd: Math.round(sum(expectedCost) * 1e6) / 1e6,
  };
}
