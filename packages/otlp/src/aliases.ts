/**
 * Which span attributes carry each usage field, per instrumentation dialect.
 * Versioned: a change of a name, its order or its meaning bumps
 * {@link ALIAS_TABLE_VERSION}, so rows stored with `source = otlp:<dialect>`
 * can be found and re-ingested when a mapping was wrong.
 *
 * Order matters: the first attribute present wins. Every dialect falls back
 * to the official GenAI names, since vendor instrumentations emit those too.
 *
 * Token convention (ours = GenAI's): input counts every prompt token,
 * including cache reads and writes; output includes reasoning. All the
 * dialects below report it that way, so nothing is added or subtracted.
 */
export const ALIAS_TABLE_VERSION = 1;

export const DIALECTS = ["gen_ai", "openllmetry", "openinference", "vercel-ai", "pydantic-ai"] as const;
export type Dialect = (typeof DIALECTS)[number];

export interface Aliases {
  /** The instrumentation versions the names were taken from (their documented attribute names). */
  source: string;
  provider: string[];
  responseModel: string[];
  requestModel: string[];
  inputTokens: string[];
  outputTokens: string[];
  cacheReadTokens: string[];
  cacheWriteTokens: string[];
  reasoningTokens: string[];
  /** Reported cost in USD. */
  cost: string[];
  /** Time to first chunk in seconds. */
  ttfbSeconds: string[];
  /** Time to first chunk in milliseconds. */
  ttfbMs: string[];
  streaming: string[];
  sessionId: string[];
  agentId: string[];
  userId: string[];
}

/** Official GenAI semantic conventions (semconv 1.37+), then the names they deprecated (1.26–1.36). */
const GEN_AI: Aliases = {
  source: "OpenTelemetry semantic conventions gen_ai.* 1.26–1.38 (deprecated names last)",
  provider: ["gen_ai.provider.name", "gen_ai.system"],
  responseModel: ["gen_ai.response.model"],
  requestModel: ["gen_ai.request.model"],
  inputTokens: ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"],
  outputTokens: ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"],
  cacheReadTokens: ["gen_ai.usage.cache_read.input_tokens"],
  cacheWriteTokens: ["gen_ai.usage.cache_creation.input_tokens"],
  reasoningTokens: ["gen_ai.usage.reasoning.output_tokens"],
  cost: ["gen_ai.usage.cost"],
  // OpenLIT reports time to first token as gen_ai.server.ttft (seconds).
  ttfbSeconds: ["gen_ai.response.time_to_first_chunk", "gen_ai.server.ttft"],
  ttfbMs: [],
  streaming: ["gen_ai.request.stream", "gen_ai.request.is_stream"],
  sessionId: ["gen_ai.conversation.id", "session.id"],
  agentId: ["gen_ai.agent.id", "gen_ai.agent.name"],
  userId: ["user.id", "enduser.id"],
};

function withGenAi(own: Partial<Aliases> & { source: string }): Aliases {
  const out = { ...GEN_AI, source: own.source };
  for (const k of Object.keys(GEN_AI) as (keyof Aliases)[]) {
    if (k === "source") continue;
    out[k] = [...new Set([...(own[k] ?? []), ...GEN_AI[k]])];
  }
  return out;
}

export const ALIASES: Record<Dialect, Aliases> = {
  gen_ai: GEN_AI,
  // Traceloop OpenLLMetry (opentelemetry-semantic-conventions-ai 0.4): llm.* and its own gen_ai.usage.* cache names.
  openllmetry: withGenAi({
    source: "OpenLLMetry / opentelemetry-semantic-conventions-ai 0.4.x",
    provider: ["gen_ai.system", "llm.vendor"],
    responseModel: ["gen_ai.response.model", "llm.response.model"],
    requestModel: ["gen_ai.request.model", "llm.request.model"],
    inputTokens: ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens"],
    outputTokens: ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens"],
    cacheReadTokens: ["gen_ai.usage.cache_read_input_tokens", "llm.usage.cache_read_input_tokens"],
    cacheWriteTokens: ["gen_ai.usage.cache_creation_input_tokens", "llm.usage.cache_creation_input_tokens"],
    reasoningTokens: ["llm.usage.reasoning_tokens", "gen_ai.usage.reasoning_tokens"],
    streaming: ["llm.is_streaming"],
    sessionId: ["traceloop.association.properties.session_id"],
    userId: ["traceloop.association.properties.user_id"],
  }),
  // Arize OpenInference (openinference-semantic-conventions 0.1.x).
  openinference: withGenAi({
    source: "OpenInference semantic conventions 0.1.x",
    provider: ["llm.provider", "llm.system"],
    responseModel: ["llm.model_name", "embedding.model_name"],
    inputTokens: ["llm.token_count.prompt"],
    outputTokens: ["llm.token_count.completion"],
    cacheReadTokens: ["llm.token_count.prompt_details.cache_read"],
    cacheWriteTokens: ["llm.token_count.prompt_details.cache_write"],
    reasoningTokens: ["llm.token_count.completion_details.reasoning"],
    cost: ["llm.cost.total"],
    sessionId: ["session.id"],
    userId: ["user.id"],
  }),
  // Vercel AI SDK telemetry (ai 4.x names, then 5.x): only its doGenerate / doStream / doEmbed spans are model calls.
  "vercel-ai": withGenAi({
    source: "Vercel AI SDK telemetry, ai 4.x and 5.x",
    provider: ["ai.model.provider"],
    responseModel: ["ai.response.model"],
    requestModel: ["ai.model.id"],
    inputTokens: ["ai.usage.inputTokens", "ai.usage.promptTokens", "ai.usage.tokens"],
    outputTokens: ["ai.usage.outputTokens", "ai.usage.completionTokens"],
    cacheReadTokens: ["ai.usage.cachedInputTokens"],
    reasoningTokens: ["ai.usage.reasoningTokens"],
    ttfbMs: ["ai.response.msToFirstChunk"],
    sessionId: ["ai.telemetry.metadata.sessionId"],
    userId: ["ai.telemetry.metadata.userId"],
    agentId: ["ai.telemetry.functionId"],
  }),
  // pydantic-ai 1.x (through logfire or plain OpenTelemetry): gen_ai.* plus gen_ai.usage.details.* and operation.cost.
  "pydantic-ai": withGenAi({
    source: "pydantic-ai 1.x instrumentation",
    cacheReadTokens: ["gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.details.cache_read_tokens"],
    cacheWriteTokens: ["gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.details.cache_write_tokens"],
    reasoningTokens: ["gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.details.reasoning_tokens"],
    cost: ["gen_ai.usage.cost", "operation.cost"],
  }),
};
