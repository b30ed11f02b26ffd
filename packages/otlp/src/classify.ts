import type { Operation } from "@tokenmeter/core";
import type { Dialect } from "./aliases.js";
import type { OtlpSpan } from "./span.js";

/** Why a span is not a usage event. Skipped is not rejected: nothing is wrong with it. */
export const SKIP_REASONS = ["not_genai", "tool_call", "agent", "wrapper", "not_model_call", "no_usage"] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export type Classification = { dialect: Dialect | "none" } & ({ model: true; operation: Operation } | { model: false; reason: SkipReason });

/** GenAI `gen_ai.operation.name` → our operation; the others are not model calls. */
const GEN_AI_OPERATIONS: Record<string, Operation> = {
  chat: "chat",
  generate_content: "chat",
  text_completion: "completion",
  embeddings: "embedding",
};
const GEN_AI_SKIPS: Record<string, SkipReason> = {
  execute_tool: "tool_call",
  invoke_agent: "agent",
  create_agent: "agent",
  invoke_workflow: "wrapper",
};

/**
 * Which dialect a span speaks, and whether it is one model call. Vendor
 * markers are checked before the official names because vendor spans carry
 * both (the Vercel AI SDK's outer spans repeat their children's usage, so
 * only its doGenerate / doStream / doEmbed spans count).
 */
export function classify(span: OtlpSpan): Classification {
  const a = span.attributes;
  const has = prefixes(span);
  const text = (k: string) => {
    const v = a.get(k);
    return typeof v === "string" ? v : undefined;
  };
  // 1. Vercel AI SDK.
  const vercelOp = text("ai.operationId");
  if (vercelOp !== undefined || has.aiUsage || a.has("ai.model.id")) {
    const op = vercelOp ?? span.name;
    if (/\.do(Generate|Stream)$/.test(op)) return { dialect: "vercel-ai", model: true, operation: "chat" };
    if (/\.doEmbed$/.test(op)) return { dialect: "vercel-ai", model: true, operation: "embedding" };
    return { dialect: "vercel-ai", model: false, reason: op === "ai.toolCall" ? "tool_call" : "wrapper" };
  }
  // 2. OpenInference: the span kind says it all.
  const oiKind = text("openinference.span.kind");
  if (oiKind !== undefined) {
    const kind = oiKind.toUpperCase();
    if (kind === "LLM") return { dialect: "openinference", model: true, operation: "chat" };
    if (kind === "EMBEDDING") return { dialect: "openinference", model: true, operation: "embedding" };
    return {
      dialect: "openinference",
      model: false,
      reason: kind === "TOOL" ? "tool_call" : kind === "AGENT" ? "agent" : "not_model_call",
    };
  }
  // 3. OpenLLMetry: traceloop.span.kind marks workflow/task/agent/tool spans; llm.request.type the model calls.
  const tlKind = text("traceloop.span.kind");
  const requestType = text("llm.request.type");
  if (tlKind !== undefined || requestType !== undefined || has.llmUsage) {
    if (tlKind !== undefined) {
      return { dialect: "openllmetry", model: false, reason: tlKind === "tool" ? "tool_call" : tlKind === "agent" ? "agent" : "wrapper" };
    }
    const op = requestType === undefined ? undefined : OPENLLMETRY_TYPES[requestType];
    if (op !== undefined) return { dialect: "openllmetry", model: true, operation: op };
    const viaGenAi = genAi(span, "openllmetry");
    return viaGenAi;
  }
  // 4. pydantic-ai, then 5. the official conventions.
  const pydantic = span.scopeName.startsWith("pydantic-ai") || has.usageDetails;
  if (pydantic) return genAi(span, "pydantic-ai");
  if (has.genAi) return genAi(span, "gen_ai");
  return { dialect: "none", model: false, reason: "not_genai" };
}

const OPENLLMETRY_TYPES: Record<string, Operation> = { chat: "chat", completion: "completion", embedding: "embedding", rerank: "rerank" };

function genAi(span: OtlpSpan, dialect: Dialect): Classification {
  const a = span.attributes;
  const opName = a.get("gen_ai.operation.name");
  if (typeof opName === "string") {
    const op = GEN_AI_OPERATIONS[opName];
    if (op !== undefined) return { dialect, model: true, operation: op };
    return { dialect, model: false, reason: GEN_AI_SKIPS[opName] ?? "not_model_call" };
  }
  // Before gen_ai.operation.name existed (semconv < 1.27) a model call was a span with a model and a provider.
  if (a.has("gen_ai.tool.name")) return { dialect, model: false, reason: "tool_call" };
  const model = a.has("gen_ai.request.model") || a.has("gen_ai.response.model");
  const provider = a.has("gen_ai.system") || a.has("gen_ai.provider.name");
  if (model && provider) return { dialect, model: true, operation: "chat" };
  return { dialect, model: false, reason: a.has("gen_ai.agent.name") || a.has("gen_ai.agent.id") ? "agent" : "not_model_call" };
}

/** The attribute-name prefixes that mark a dialect, in one pass over the keys. */
function prefixes(span: OtlpSpan) {
  const out = { aiUsage: false, llmUsage: false, usageDetails: false, genAi: false };
  for (const k of span.attributes.keys()) {
    if (k.startsWith("gen_ai.")) {
      out.genAi = true;
      if (k.startsWith("gen_ai.usage.details.")) out.usageDetails = true;
    } else if (k.startsWith("ai.usage.")) out.aiUsage = true;
    else if (k.startsWith("llm.usage.")) out.llmUsage = true;
  }
  return out;
}
