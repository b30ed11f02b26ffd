import { resolveBatchPolicy } from "@tokenmeter/core";
import { describe, expect, it } from "vitest";
import { batchPlan } from "./intent.js";
import { nextWork } from "./next-work.js";
import { createRedo, type Redo, recordedPlans } from "./redo.js";
import { createStaging, rangeOf, type StagedItem } from "./staging.js";

const line = Buffer.from("x\n");
const item = (partition: number, offset: number): StagedItem => ({
  offset: String(offset),
  bytes: 10,
  org_id: "o",
  event_id: `e${offset}`,
  timeMs: 0,
  partition,
  chunk: line,
  start: 0,
  end: line.length,
});
const policy = resolveBatchPolicy({ maxRows: 100, maxBytes: 1 << 20, maxDelayMs: 500, idleMs: 0, maxBufferedBytes: 1 << 30 });

describe("nextWork (what a member stores next)", () => {
  it("waits for the policy, then takes the staged partitions; stopping takes them at once", () => {
    const staging = createStaging();
    staging.append(0, [item(0, 1), item(0, 2)], 1_000);
    expect(nextWork(new Map(), staging, policy, false, 1_100)).toBeNull();
    expect(nextWork(new Map(), staging, policy, true, 1_100)).toMatchObject({ ranges: [{ partition: 0 }] });
    staging.append(1, [item(1, 5)], 1_000);
    const work = nextWork(new Map(), staging, policy, false, 1_600);
    expect(work && "ranges" in work ? work.ranges.map(rangeOf) : null).toEqual([{ partition: 1, first: "5", last: "5" }]);
  });

  it("puts a complete redo first and never batches a partition a redo holds", () => {
    const plan = batchPlan("t", [{ partition: 0, first: "0", last: "0" }]);
    const redo: Redo = createRedo(plan, [0]);
    const redoOf = new Map([[0, redo]]);
    const staging = createStaging();
    staging.append(0, [item(0, 1)], 0);
    expect(nextWork(redoOf, staging, policy, true, 10_000)).toBeNull();
    redo.collect(0, [{ offset: "0", key: null, value: Buffer.from("{}"), timestamp: "0", attributes: 0, headers: {} }] as never, "0");
    expect(nextWork(redoOf, staging, policy, true, 10_000)).toEqual({ redo });
  });
});

describe("recordedPlans (the redos a join brings)", () => {
  it("groups the intents of the assigned partitions by plan, each with the partitions this member owns", () => {
    const a = batchPlan("t", [
      { partition: 0, first: "0", last: "9" },
      { partition: 1, first: "0", last: "4" },
    ]);
    const b = batchPlan("t", [{ partition: 2, first: "5", last: "6" }]);
    const intents = new Map([
      [0, a],
      [1, a],
      [2, b],
    ]);
    expect(recordedPlans(intents, new Set([1, 2]))).toEqual([
      { plan: a, owned: [1] },
      { plan: b, owned: [2] },
    ]);
    expect(recordedPlans(intents, new Set([3]))).toEqual([]);
  });
});
