import { describe, expect, it } from "vitest";
import { backoffMs, createInFlightGate } from "./consumer.js";

describe("in-flight gate (backpressure)", () => {
  it("admits while there is room, pauses the partition when full, resumes once a range finishes", async () => {
    const gate = createInFlightGate(100);
    const events: string[] = [];
    const ctx = {
      pause: () => {
        events.push("pause");
        return () => events.push("resume");
      },
      heartbeat: async () => {
        events.push("heartbeat");
      },
    };
    const a = await gate.acquire(60, ctx);
    const b = await gate.acquire(30, ctx);
    expect(gate.inFlight()).toBe(90);
    let admitted = false;
    const c = gate.acquire(50, ctx).then((release) => {
      admitted = true;
      return release;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(admitted).toBe(false);
    expect(events).toEqual(["pause"]);
    a();
    a(); // releasing twice is harmless
    const releaseC = await c;
    expect(admitted).toBe(true);
    expect(events).toEqual(["pause", "heartbeat", "resume"]);
    expect(gate.inFlight()).toBe(80);
    b();
    releaseC();
    expect(gate.inFlight()).toBe(0);
    // An empty gate admits a range bigger than the bound, so one huge range still moves.
    const big = await gate.acquire(500, ctx);
    expect(gate.inFlight()).toBe(500);
    big();
  });
});

describe("backoff", () => {
  it("doubles from the minimum, is capped, and keeps half of the ceiling fixed", () => {
    expect([1, 2, 3, 10].map((n) => backoffMs(n, 100, 1_000, () => 0))).toEqual([50, 100, 200, 500]);
    expect(backoffMs(10, 100, 1_000, () => 1)).toBe(1_000);
  });
});
