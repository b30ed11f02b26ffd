import { describe, expect, it } from "vitest";
import { MAX_INTENT_BYTES } from "./intent.js";
import { createStaging, rangeOf, type StagedItem } from "./staging.js";

const line = Buffer.from("x\n");
const item = (offset: number, bytes = 10): StagedItem => ({
  offset: String(offset),
  bytes,
  org_id: "o",
  event_id: `e${offset}`,
  timeMs: 0,
  partition: 0,
  chunk: line,
  start: 0,
  end: line.length,
});
const none = new Set<number>();

describe("staging (what a member read but has not stored)", () => {
  it("takes one contiguous range per partition, in partition order, and keeps the rest for the next batch", () => {
    const s = createStaging();
    s.append(2, [item(5), item(6)], 1_000);
    s.append(0, [item(10), item(11), item(12)], 2_000);
    s.append(0, [item(13)], 3_000);
    expect(s.state(none)).toEqual({ rows: 6, bytes: 60, oldestAtMs: 1_000 });
    const batch = s.take({ maxRows: 5, exclude: none });
    expect(batch.map(rangeOf)).toEqual([
      { partition: 0, first: "10", last: "13" },
      { partition: 2, first: "5", last: "5" },
    ]);
    expect(batch.map((r) => r.bytes)).toEqual([40, 10]);
    expect(s.bytes()).toBe(10);
    expect(s.take({ maxRows: 5, exclude: none }).map(rangeOf)).toEqual([{ partition: 2, first: "6", last: "6" }]);
    expect(s.state(none)).toEqual({ rows: 0, bytes: 0, oldestAtMs: null });
  });

  it("leaves excluded partitions (a redo pending) out of batches and of the flush state", () => {
    const s = createStaging();
    s.append(0, [item(1)], 1_000);
    s.append(1, [item(7)], 500);
    expect(s.state(new Set([1]))).toEqual({ rows: 1, bytes: 10, oldestAtMs: 1_000 });
    expect(s.take({ maxRows: 10, exclude: new Set([1]) }).map((r) => r.partition)).toEqual([0]);
    expect(s.bytes()).toBe(10);
    s.clear();
    expect(s.bytes()).toBe(0);
  });

  it("stops adding partitions before the plan's intent would pass the commit-metadata limit", () => {
    const s = createStaging();
    const big = 10n ** 15n;
    for (let p = 0; p < 200; p++) s.append(p, [{ ...item(0), offset: String(big + BigInt(p)) }], 0);
    const batch = s.take({ maxRows: 1_000, exclude: none });
    const intent = `tm2:${batch.map((r) => `${r.partition}:${rangeOf(r).first}-${rangeOf(r).last}`).join(",")}`;
    expect(batch.length).toBeGreaterThan(50);
    expect(batch.length).toBeLessThan(200);
    expect(intent.length).toBeLessThanOrEqual(MAX_INTENT_BYTES);
    expect(s.state(none).rows).toBe(200 - batch.length);
  });
});
