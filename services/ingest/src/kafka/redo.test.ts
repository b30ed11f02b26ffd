import type { KafkaMessage } from "kafkajs";
import { describe, expect, it } from "vitest";
import { batchPlan } from "./intent.js";
import { createRedo } from "./redo.js";

const msg = (offset: number) => ({ offset: String(offset), value: Buffer.from("{}") }) as unknown as KafkaMessage;
const offsets = (ms: KafkaMessage[]) => ms.map((m) => Number(m.offset));

describe("redo of a recorded plan", () => {
  const plan = batchPlan("t", [
    { partition: 0, first: "10", last: "14" },
    { partition: 1, first: "3", last: "4" },
  ]);

  it("collects the owned range over several fetches, hands back what follows, and reads the rest", () => {
    const redo = createRedo(plan, [0]);
    expect(redo.waiting(0)).toBe(true);
    expect(redo.foreign()).toEqual([{ partition: 1, first: "3", last: "4" }]);
    expect(offsets(redo.collect(0, [msg(10), msg(11)], "11"))).toEqual([]);
    expect(redo.complete()).toBe(false);
    expect(offsets(redo.collect(0, [msg(12), msg(13), msg(14), msg(15), msg(16)], "16"))).toEqual([15, 16]);
    expect(redo.waiting(0)).toBe(false);
    expect(redo.complete()).toBe(false);
    redo.addRead(new Map([[1, [msg(3), msg(4)]]]));
    expect(redo.complete()).toBe(true);
    expect(redo.exact()).toBe(true);
    expect(redo.messages().map((p) => [p.range.partition, offsets(p.messages)])).toEqual([
      [0, [10, 11, 12, 13, 14]],
      [1, [3, 4]],
    ]);
  });

  it("is complete when the log has moved past a range whose last offsets were not messages, and inexact when its start is gone", () => {
    const redo = createRedo(plan, [0, 1]);
    expect(redo.foreign()).toEqual([]);
    redo.collect(0, [msg(12), msg(13)], "20");
    redo.collect(1, [msg(3), msg(4)], "4");
    expect(redo.complete()).toBe(true);
    expect(redo.exact()).toBe(false);
    // A fetch repeated after completion changes nothing.
    expect(offsets(redo.collect(1, [msg(4), msg(5)], "5"))).toEqual([4, 5]);
    expect(offsets(redo.messages()[1]!.messages)).toEqual([3, 4]);
  });
});
