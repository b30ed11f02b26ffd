import pino from "pino";
import { describe, expect, it } from "vitest";
import { startInProcessSchedule } from "./schedule.js";

const logger = pino({ level: "silent" });

describe("in-process schedule (embedded default)", () => {
  it("runs at start, retries a failing run with backoff, and never overlaps runs", async () => {
    let calls = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const run = async () => {
      calls++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await new Promise((r) => setTimeout(r, 10));
      concurrent--;
      if (calls < 3) throw new Error("source down");
    };
    const s = startInProcessSchedule({ cron: "17 4 * * *", run, logger, attempts: 5, backoffMs: 10, runAtStart: true });
    await Promise.all([s.trigger(), s.trigger()]);
    s.stop();
    expect(calls).toBe(3);
    expect(maxConcurrent).toBe(1);
  });

  it("gives up after its attempts until the next schedule", async () => {
    let calls = 0;
    const s = startInProcessSchedule({
      cron: "17 4 * * *",
      run: async () => {
        calls++;
        throw new Error("bad document");
      },
      logger,
      attempts: 2,
      backoffMs: 5,
    });
    await s.trigger();
    s.stop();
    expect(calls).toBe(2);
  });

  it("refuses a bad cron pattern at start", () => {
    expect(() => startInProcessSchedule({ cron: "every day", run: async () => {}, logger, attempts: 1, backoffMs: 1 })).toThrow();
  });
});
