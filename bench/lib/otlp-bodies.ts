import { randomBytes } from "node:crypto";
import type { UsageEventInput } from "@tokenmeter/core";
import { encodeProtobufExport } from "@tokenmeter/otlp";

const OPERATION: Record<string, string> = { chat: "chat", completion: "text_completion", embedding: "embeddings" };

/** The GenAI span a runtime would emit for this call (the same figures /v1/events gets). */
function spanOf(e: UsageEventInput, spanId: Buffer, traceId: Buffer) {
  const start = BigInt(Date.parse(e.event_time)) * 1_000_000n;
  const attrs: Record<string, string | number> = {
    "gen_ai.operation.name": OPERATION[e.operation ?? "chat"] ?? "chat",
    "gen_ai.provider.name": e.provider,
    "gen_ai.request.model": e.model,
    "gen_ai.usage.input_tokens": e.input_tokens,
    "gen_ai.usage.output_tokens": e.output_tokens,
  };
  if (e.cached_input_tokens) attrs["gen_ai.usage.cache_read.input_tokens"] = e.cached_input_tokens;
  if (e.cache_write_tokens) attrs["gen_ai.usage.cache_creation.input_tokens"] = e.cache_write_tokens;
  if (e.reasoning_tokens) attrs["gen_ai.usage.reasoning.output_tokens"] = e.reasoning_tokens;
  if (e.ttfb_ms) attrs["gen_ai.response.time_to_first_chunk"] = e.ttfb_ms / 1000 + 0.0001;
  if (e.agent_id) attrs["gen_ai.agent.id"] = e.agent_id;
  if (e.user_id) attrs["user.id"] = e.user_id;
  if (e.session_id) attrs["gen_ai.conversation.id"] = e.session_id;
  if (e.status_code >= 400) {
    attrs["http.response.status_code"] = e.status_code;
    attrs["error.type"] = e.error_code || String(e.status_code);
  }
  return {
    traceId,
    spanId,
    name: `${attrs["gen_ai.operation.name"]} ${e.model}`,
    kind: 3,
    startTimeUnixNano: start.toString(),
    endTimeUnixNano: (start + BigInt(e.duration_ms ?? 500) * 1_000_000n).toString(),
    attributes: Object.entries(attrs).map(([key, v]) => ({
      key,
      value: typeof v === "string" ? { stringValue: v } : Number.isInteger(v) ? { intValue: v } : { doubleValue: v },
    })),
    status: e.status_code >= 400 ? { code: 2 } : {},
  };
}

/**
 * OTLP protobuf export bodies of `spans` GenAI model-call spans with unique
 * span ids, cheaply: the export is encoded once with a marker in each span
 * id, and each body is a copy with fresh ids written at those offsets (the
 * load generator shares the 2 cores with the server under test).
 */
export class SpanBodyFactory {
  private readonly template: Buffer;
  private readonly offsets: number[];
  private readonly prefix = randomBytes(3);
  private counter = 0;

  constructor(templates: readonly UsageEventInput[], spans: number) {
    const traceId = randomBytes(16);
    const marker = (i: number) => Buffer.from([0xfe, 0xed, 0xfa, 0xce, (i >>> 24) & 0xff, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff]);
    const list = Array.from({ length: spans }, (_, i) => spanOf(templates[i % templates.length]!, marker(i), traceId));
    this.template = Buffer.from(
      encodeProtobufExport({
        resourceSpans: [
          { resource: { attributes: [{ key: "service.name", value: { stringValue: "bench" } }] }, scopeSpans: [{ spans: list }] },
        ],
      }),
    );
    this.offsets = list.map((_, i) => {
      const at = this.template.indexOf(marker(i));
      if (at < 0) throw new Error(`span id marker ${i} not found`);
      return at;
    });
  }

  /** A body of the template's spans with ids never sent before. */
  body(): Buffer {
    const b = Buffer.from(this.template);
    for (const at of this.offsets) {
      const n = this.counter++;
      b[at] = 0x01;
      this.prefix.copy(b, at + 1);
      b.writeUInt32BE(n >>> 0, at + 4);
    }
    return b;
  }
}
