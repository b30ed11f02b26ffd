import { describe, expect, it } from "vitest";
import { batchPolicyFromConfig, loadIngestConfig } from "./config.js";

const secret = "s".repeat(32);

describe("loadIngestConfig", () => {
  it("applies defaults and leaves unset batch settings to the policy", () => {
    const r = loadIngestConfig({ TOKENMETER_JWT_SECRET: secret, TOKENMETER_KAFKA_BROKERS: "", PATH: "/bin" });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.TOKENMETER_INGEST_PORT).toBe(8081);
    expect(r.config.TOKENMETER_KAFKA_BROKERS).toBeUndefined();
    expect(batchPolicyFromConfig(r.config)).toEqual({});
  });

  it("maps batch settings onto the policy", () => {
    const r = loadIngestConfig({
      TOKENMETER_JWT_SECRET: secret,
      TOKENMETER_BATCH_MAX_ROWS: "500",
      TOKENMETER_BATCH_MAX_DELAY_MS: "250",
      TOKENMETER_DEDUP_WINDOW_MS: "0",
    });
    expect(r.ok && batchPolicyFromConfig(r.config)).toEqual({ maxRows: 500, maxDelayMs: 250 });
    expect(r.ok && r.config.TOKENMETER_DEDUP_WINDOW_MS).toBe(0);
  });

  it("reports every problem at once", () => {
    const r = loadIngestConfig({ TOKENMETER_JWT_SECRET: "short", TOKENMETER_BATCH_MAX_ROWS: "-1", TOKENMETER_CLICKHOUSE_URL: "nope" });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.split(/[=:]/)[0]).sort()).toEqual([
      "TOKENMETER_BATCH_MAX_ROWS",
      "TOKENMETER_CLICKHOUSE_URL",
      "TOKENMETER_JWT_SECRET",
    ]);
  });
});
