import { reportedOrUnpriced, toUsageRow, USAGE_TSV_HEADER, usageTsvLine } from "@tokenmeter/core";
import { describe, expect, it } from "vitest";
import { eventKey } from "../dedup/stored-ids.js";
import { keysOfPayload, payloadShape, refusedKeys } from "./payload-keys.js";
import { events } from "./testing.js";

// Org ids are free text: a tab, a newline or a backslash in one is escaped in the TSV line and must read back as itself.
const batch = events(4).map((e, i) => ({ ...e, org_id: ["acme", "tab\there", "new\nline", "back\\slash"][i]! }));
const keys = batch.map((e) => eventKey(e.org_id, e.event_id));

describe("the writer's payloads read back", () => {
  it("TSV with its header: inserted as TabSeparatedWithNames, every key and each refused row's key as written", () => {
    const payload = Buffer.from(USAGE_TSV_HEADER + batch.map((e) => usageTsvLine(e, reportedOrUnpriced.price(e), "http")).join(""));
    expect(payloadShape(payload)).toEqual({ format: "TabSeparatedWithNames", headerLines: 1 });
    expect([...keysOfPayload(payload)]).toEqual(keys);
    expect([...refusedKeys(payload, [{ index: 2, reason: "x" }])]).toEqual([keys[2]]);
  });

  it("JSONEachRow journaled by an earlier version: inserted as written, the same keys", () => {
    const payload = Buffer.from(batch.map((e) => `${JSON.stringify(toUsageRow(e, reportedOrUnpriced.price(e), "http"))}\n`).join(""));
    expect(payloadShape(payload)).toEqual({ format: "JSONEachRow", headerLines: 0 });
    expect([...keysOfPayload(payload)]).toEqual(keys);
    expect([...refusedKeys(payload, [{ index: 1, reason: "x" }])]).toEqual([keys[1]]);
  });
});
