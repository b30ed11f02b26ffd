import { describe, expect, it } from "vitest";
import { decodeIntent, encodeIntent } from "./intent.js";
import { kafkaSource, rangeToken, STORED_SOURCES_SQL } from "./range-writer.js";

describe("intent and range identity", () => {
  it("round-trips a pending range through commit metadata and ignores anything else", () => {
    expect(encodeIntent({ first: "100", last: "250" })).toBe("tm1:pending:100-250");
    expect(decodeIntent("tm1:pending:100-250")).toEqual({ first: "100", last: "250" });
    for (const other of [null, undefined, "", "other", "tm1:pending:9-3", "tm1:pending:x-y"]) expect(decodeIntent(other)).toBeUndefined();
  });

  it("derives the token from topic, partition and offsets only", () => {
    expect(rangeToken({ topic: "llm.usage.v1", partition: 2, first: "0", last: "4999" })).toBe("kafka:llm.usage.v1:2:0-4999");
    expect(kafkaSource("llm.usage.v1", 2, "17")).toBe("kafka:llm.usage.v1:2:17");
  });

  it("looks stored copies up by org and time first (primary key), then event_id, reading the UUID under another name", () => {
    expect(STORED_SOURCES_SQL).toBe(`SELECT org_id, toString(event_id) AS id, source, toUnixTimestamp64Milli(event_time) AS ms
FROM llm_usage
WHERE org_id IN {orgs:Array(String)}
  AND event_time >= {from:DateTime64(3, 'UTC')}
  AND event_time <= {to:DateTime64(3, 'UTC')}
  AND event_id IN {ids:Array(UUID)}`);
  });
});
