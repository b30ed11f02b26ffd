import { describe, expect, it } from "vitest";
import { idFilters } from "../dedup/stored-ids.js";
import { batchPlan, decodeIntent, encodeIntent, planKey, planToken } from "./intent.js";
import { storedSourcesSql } from "./plan-insert.js";
import { kafkaSource } from "./source.js";

const T = "llm.usage.v1";

describe("intent and plan identity", () => {
  it("round-trips a plan through commit metadata, read from any of its partitions", () => {
    const plan = batchPlan(T, [
      { partition: 3, first: "7", last: "90" },
      { partition: 0, first: "100", last: "250" },
    ]);
    expect(plan.ranges.map((r) => r.partition)).toEqual([0, 3]);
    expect(encodeIntent(plan)).toBe("tm2:0:100-250,3:7-90");
    expect(decodeIntent(T, 3, "tm2:0:100-250,3:7-90")).toEqual(plan);
    expect(decodeIntent(T, 0, "tm2:3:7-90,0:100-250")).toEqual(plan);
    // Not a plan this partition belongs to, or not ours at all.
    for (const other of [null, undefined, "", "other", "tm2:", "tm2:1:9-3", "tm2:1:x-y", "tm2:1:1-2,1:3-4", "tm2:5:1-2"]) {
      expect(decodeIntent(T, 1, other)).toBeUndefined();
    }
  });

  it("reads an intent of the one-range consumer as a one-range plan with its old token", () => {
    const plan = decodeIntent(T, 2, "tm1:pending:0-4999");
    expect(plan).toEqual({ topic: T, ranges: [{ partition: 2, first: "0", last: "4999" }] });
    expect(planToken(plan!)).toBe("kafka:llm.usage.v1:2:0-4999");
    expect(decodeIntent(T, 2, "tm1:pending:9-3")).toBeUndefined();
  });

  it("derives the token from the topic and offsets only: same ranges, same token", () => {
    const a = batchPlan(T, [
      { partition: 0, first: "0", last: "9" },
      { partition: 1, first: "5", last: "8" },
    ]);
    const b = batchPlan(T, [...a.ranges].reverse());
    expect(planToken(a)).toBe(planToken(b));
    expect(planToken(a)).toMatch(/^kafka:llm\.usage\.v1:batch:[0-9a-f]{64}$/);
    expect(planKey(a)).toBe(planKey(b));
    expect(planToken(batchPlan(T, [{ partition: 0, first: "0", last: "9" }]))).not.toBe(planToken(a));
    expect(planToken(batchPlan("other", a.ranges))).not.toBe(planToken(a));
    expect(() => batchPlan(T, [a.ranges[0]!, a.ranges[0]!])).toThrow(/two ranges of partition 0/);
    expect(kafkaSource(T, 2, "17")).toBe("kafka:llm.usage.v1:2:17");
  });

  it("looks stored copies up by org and time first (primary key), then event_id, reading the UUID under another name", () => {
    expect(
      storedSourcesSql(idFilters(["6f1c1d1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f"])[0]!),
    ).toBe(`SELECT org_id, toString(event_id) AS id, source, toUnixTimestamp64Milli(event_time) AS ms
FROM llm_usage
WHERE org_id IN {orgs:Array(String)}
  AND event_time >= {from:DateTime64(3, 'UTC')}
  AND event_time <= {to:DateTime64(3, 'UTC')}
  AND event_id IN {ids:Array(UUID)}`);
  });
});
