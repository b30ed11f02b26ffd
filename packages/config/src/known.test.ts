import { describe, expect, it } from "vitest";
import { KNOWN_SETTINGS, loadProcessConfig, unknownSettings } from "./known.js";
import { QueryConfig } from "./services.js";

describe("unknownSettings", () => {
  it("reports a misspelt setting with the name it was probably meant to be", () => {
    expect(unknownSettings({ TOKENMETER_PROT: "9000", TOKENMETER_PORT: "8080" })).toEqual([
      "TOKENMETER_PROT: not a Tokenmeter setting (did you mean TOKENMETER_PORT?)",
    ]);
  });

  it("gives no suggestion when nothing is close, and ignores other prefixes and the test harness's", () => {
    expect(unknownSettings({ TOKENMETER_SOMETHING_ELSE_ENTIRELY: "1", PATH: "/bin", TOKENMETER_TEST_KAFKA_BROKERS: "x" })).toEqual([
      "TOKENMETER_SOMETHING_ELSE_ENTIRELY: not a Tokenmeter setting",
    ]);
  });

  it("accepts a setting another process reads (pods share one ConfigMap)", () => {
    expect(KNOWN_SETTINGS.has("TOKENMETER_KAFKA_BROKERS")).toBe(true);
    const r = loadProcessConfig(QueryConfig, { TOKENMETER_JWT_SECRET: "x".repeat(32), TOKENMETER_KAFKA_BROKERS: "k:9092" });
    expect(r.ok).toBe(true);
    expect(r.unknown).toEqual([]);
  });

  it("still reports invalid values of known settings, all at once", () => {
    const r = loadProcessConfig(QueryConfig, { TOKENMETER_PORT: "x", TOKENMETER_PROT: "1" });
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.errors.map((e) => /^TOKENMETER_[A-Z0-9_]+/.exec(e)?.[0]).sort()).toEqual(["TOKENMETER_JWT_SECRET", "TOKENMETER_PORT"]);
    expect(r.unknown).toHaveLength(1);
  });
});
