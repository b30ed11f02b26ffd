import { describe, expect, it } from "vitest";
import { faultsEnabled, loadKafkaIngestConfig, loadKafkaToolConfig } from "./config.js";

describe("Kafka configuration", () => {
  it("has defaults, no faults, and reports every problem at once", () => {
    const ok = loadKafkaIngestConfig({});
    expect(ok.ok && ok.config.TOKENMETER_KAFKA_MAX_BATCH_ROWS).toBe(200_000);
    expect(ok.ok && faultsEnabled(ok.config)).toBe(false);
    const bad = loadKafkaIngestConfig({ TOKENMETER_KAFKA_CONCURRENCY: "0", TOKENMETER_FAULT_INSERT_FAIL_RATE: "2" });
    expect(bad.ok || bad.errors.length).toBe(2);
  });

  it("turns test-only faults on only when asked", () => {
    const c = loadKafkaIngestConfig({ TOKENMETER_FAULT_INSERT_TIMEOUT_RATE: "0.1", TOKENMETER_FAULT_EXTRA_MEMBER_SIGNAL: "1" });
    expect(c.ok && faultsEnabled(c.config)).toBe(true);
    expect(c.ok && c.config.TOKENMETER_FAULT_EXTRA_MEMBER_SIGNAL).toBe(true);
  });

  it("stages on the main thread by default; worker threads by count or one per core ('auto')", () => {
    const workers = (v?: string) => {
      const c = loadKafkaIngestConfig(v === undefined ? {} : { TOKENMETER_KAFKA_STAGE_WORKERS: v });
      return c.ok ? c.config.TOKENMETER_KAFKA_STAGE_WORKERS : c.errors.join("; ");
    };
    expect([workers(), workers("auto"), workers("3"), workers("0")]).toEqual([0, "auto", 3, 0]);
    for (const bad of ["-1", "1.5", "many"]) expect(workers(bad)).toMatch(/TOKENMETER_KAFKA_STAGE_WORKERS/);
  });

  it("tools need brokers; flags win over the environment", () => {
    expect(loadKafkaToolConfig({}).ok).toBe(false);
    const c = loadKafkaToolConfig({ TOKENMETER_KAFKA_BROKERS: "a:1", TOKENMETER_KAFKA_TOPIC: "t" }, { TOKENMETER_KAFKA_BROKERS: "b:2" });
    expect(c.ok && [c.config.TOKENMETER_KAFKA_BROKERS, c.config.TOKENMETER_KAFKA_TOPIC, c.config.TOKENMETER_KAFKA_DLQ_TOPIC]).toEqual([
      "b:2",
      "t",
      "llm.usage.v1.dlq",
    ]);
  });
});
