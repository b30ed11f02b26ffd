import { describe, expect, it } from "vitest";
import { mapSpan } from "./map.js";
import { type AttrValue, BadValue, type OtlpSpan } from "./span.js";

const START = 1_795_168_800_000n * 1_000_000n;

function span(attrs: Record<string, AttrValue>, extra: Partial<OtlpSpan> = {}): OtlpSpan {
  return {
    traceId: "5b8aa5a2d2c872e8321cf37308d69df2",
    spanId: "051581bf3cb55c13",
    parentSpanId: "",
    name: "span",
    startNs: START,
    endNs: START + 1_234_567_890n,
    statusCode: 0,
    statusMessage: "",
    attributes: new Map(Object.entries(attrs)),
    events: [],
    resource: new Map([["service.name", "svc"]]),
    scopeName: "",
    scopeVersion: "",
    ...extra,
  };
}

const chat = { "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o" };

describe("mapSpan", () => {
  it("maps an official GenAI chat span: times, tokens, ids, project from service.name", () => {
    const out = mapSpan(span({ ...chat, "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 3 }));
    expect(out).toEqual({
      kind: "event",
      dialect: "gen_ai",
      input: {
        event_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        event_time: "2026-11-20T10:00:00.000Z",
        provider: "openai",
        model: "gpt-4o",
        operation: "chat",
        input_tokens: 10,
        output_tokens: 3,
        duration_ms: 1_234,
        status_code: 200,
        streaming: false,
        project_id: "svc",
      },
    });
  });

  it("prefers the official names over the deprecated ones, the response model over the request model", () => {
    const out = mapSpan(
      span({
        ...chat,
        "gen_ai.system": "azure",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.usage.prompt_tokens": 1,
        "gen_ai.usage.input_tokens": 2,
        "gen_ai.usage.completion_tokens": 5,
      }),
    );
    expect(out.kind === "event" && out.input).toMatchObject({
      provider: "openai",
      model: "gpt-4o-2024-08-06",
      input_tokens: 2,
      output_tokens: 5,
    });
  });

  it("takes counts sent as decimal strings or integral doubles, and rejects negative, fractional or undecodable ones by name", () => {
    const ok = mapSpan(span({ ...chat, "gen_ai.usage.input_tokens": "12", "gen_ai.usage.output_tokens": 4.0 }));
    expect(ok.kind === "event" && [ok.input.input_tokens, ok.input.output_tokens]).toEqual([12, 4]);
    for (const bad of [-1, 2.5, "many", new BadValue("intValue must be an integer"), 2n ** 60n]) {
      const out = mapSpan(span({ ...chat, "gen_ai.usage.input_tokens": bad }));
      expect(out).toMatchObject({ kind: "reject", reason: expect.stringMatching(/^gen_ai.usage.input_tokens must be an integer >= 0/) });
    }
  });

  it("an errored call without usage is an event with tokens 0; its code from error.type, else the exception event", () => {
    const typed = mapSpan(span({ ...chat, "error.type": "timeout" }, { statusCode: 2 }));
    expect(typed.kind === "event" && typed.input).toMatchObject({
      input_tokens: 0,
      output_tokens: 0,
      status_code: 500,
      error_code: "timeout",
    });
    const thrown = mapSpan(
      span(chat, {
        statusCode: 2,
        events: [{ name: "exception", timeNs: START, attributes: new Map([["exception.type", "APIConnectionError"]]) }],
      }),
    );
    expect(thrown.kind === "event" && thrown.input).toMatchObject({ status_code: 500, error_code: "APIConnectionError" });
    const http = mapSpan(span({ ...chat, "http.response.status_code": 429, "error.type": "429" }));
    expect(http.kind === "event" && http.input).toMatchObject({ status_code: 429, error_code: "429" });
  });

  it("skips model calls without usage, tool and agent spans, and spans with no GenAI attribute", () => {
    expect(mapSpan(span(chat))).toMatchObject({ kind: "skip", reason: "no_usage" });
    expect(mapSpan(span({ "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "x" }))).toMatchObject({
      kind: "skip",
      reason: "tool_call",
    });
    expect(mapSpan(span({ "gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 9 }))).toMatchObject({
      kind: "skip",
      reason: "agent",
    });
    expect(mapSpan(span({ "http.request.method": "POST" }))).toMatchObject({ kind: "skip", dialect: "none", reason: "not_genai" });
  });

  it("rejects a model call without provider or model, naming the attributes looked for", () => {
    const out = mapSpan(span({ "gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 1 }));
    expect(out).toMatchObject({ kind: "reject", reason: "no provider: none of gen_ai.provider.name, gen_ai.system is set" });
  });

  it("counts only the Vercel AI SDK's doGenerate/doStream/doEmbed spans; the provider before the dot", () => {
    const attrs = {
      "ai.model.id": "gpt-4o",
      "ai.model.provider": "openai.chat",
      "ai.usage.promptTokens": 7,
      "ai.usage.completionTokens": 2,
    };
    expect(mapSpan(span({ ...attrs, "ai.operationId": "ai.generateText" }))).toMatchObject({ kind: "skip", reason: "wrapper" });
    const inner = mapSpan(span({ ...attrs, "ai.operationId": "ai.streamText.doStream", "ai.response.msToFirstChunk": 99.6 }));
    expect(inner.kind === "event" && inner.input).toMatchObject({ provider: "openai", input_tokens: 7, ttfb_ms: 100, streaming: true });
  });

  it("takes the project from tokenmeter.project_id, else service.name unless it is the SDK placeholder", () => {
    const project = (resource: Record<string, string>) => {
      const out = mapSpan(span({ ...chat, "gen_ai.usage.input_tokens": 1 }, { resource: new Map(Object.entries(resource)) }));
      return out.kind === "event" ? out.input.project_id : "not an event";
    };
    expect(project({ "service.name": "svc", "tokenmeter.project_id": "p1" })).toBe("p1");
    expect(project({ "service.name": "svc" })).toBe("svc");
    expect(project({ "service.name": "unknown_service:node" })).toBeUndefined();
  });

  it("carries a span's tokenmeter.org_id so validation can refuse another org", () => {
    const out = mapSpan(span({ ...chat, "gen_ai.usage.input_tokens": 1, "tokenmeter.org_id": "other" }));
    expect(out.kind === "event" && out.input.org_id).toBe("other");
  });
});
