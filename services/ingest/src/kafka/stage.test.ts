import { randomUUID } from "node:crypto";
import { reportedOrUnpriced } from "@tokenmeter/core";
import type { KafkaMessage } from "kafkajs";
import pino from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { DLQ_HEADERS } from "./dlq.js";
import { createLineArena } from "./line-arena.js";
import { createKafkaMetrics } from "./metrics.js";
import { createStager, stagedRange } from "./stage.js";

const NOW = Date.parse("2026-06-01T12:00:00Z");
const message = (offset: number, value: string | Buffer | null): KafkaMessage =>
  ({
    offset: String(offset),
    key: null,
    value: typeof value === "string" ? Buffer.from(value) : value,
    timestamp: "0",
    attributes: 0,
    headers: {},
  }) as KafkaMessage;
const event = () =>
  JSON.stringify({
    event_id: randomUUID(),
    event_time: new Date(NOW - 60_000).toISOString(),
    org_id: "acme",
    provider: "openai",
    model: "gpt-4o",
    input_tokens: 10,
    output_tokens: 5,
    cost_usd: 0.25,
    status_code: 200,
  });

function stager() {
  const registry = new Registry();
  const s = createStager({
    topic: "usage",
    pricer: reportedOrUnpriced,
    maxEventBytes: 1_000,
    arena: createLineArena(),
    metrics: createKafkaMetrics(registry),
    logger: pino({ level: "silent" }),
    now: () => NOW,
  });
  return { s, registry };
}

describe("stager (the consumer's per-message work)", () => {
  it("turns valid events into serialized rows and everything else into DLQ messages with their reason, in offset order", async () => {
    const { s, registry } = stager();
    const items = s.stage(3, [message(7, event()), message(8, "{not json"), message(9, "x".repeat(2_000)), message(10, null)]);
    expect(items.map((i) => [i.offset, "poison" in i ? "poison" : "row"])).toEqual([
      ["7", "row"],
      ["8", "poison"],
      ["9", "poison"],
      ["10", "poison"],
    ]);
    const row = items[0]!;
    if ("poison" in row) throw new Error("expected a row");
    expect(row).toMatchObject({ org_id: "acme", partition: 3, timeMs: NOW - 60_000 });
    // The row is the llm_usage TSV line, its source naming topic, partition and offset.
    const line = row.chunk.subarray(row.start, row.end).toString();
    expect(line).toContain("kafka:usage:3:7");
    expect(line.endsWith("\n")).toBe(true);
    const kinds = items.slice(1).map((i) => ("poison" in i ? String(i.poison?.headers?.[DLQ_HEADERS.kind]) : ""));
    expect(kinds).toEqual(["undecodable", "too_large", "empty"]);
    expect(await registry.getSingleMetricAsString("tokenmeter_kafka_messages_consumed_total")).toMatch(/ 4$/m);
    expect(s.takeStageMs()).toBeGreaterThanOrEqual(0);
    expect(s.takeStageMs()).toBe(0);
  });

  it("sums a range's message bytes", () => {
    const { s } = stager();
    const items = s.stage(0, [message(1, event()), message(2, "bad")]);
    expect(stagedRange(0, items).bytes).toBe(items.reduce((n, i) => n + i.bytes, 0));
    expect(stagedRange(0, items).bytes).toBeGreaterThan(100);
  });
});
