import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createWriteHealth, STUCK_AFTER } from "./write-health.js";

const refused = Object.assign(new Error("Syntax error"), { retryable: false });
const unavailable = Object.assign(new Error("connection refused"), { retryable: true });

describe("write health of a Kafka member", () => {
  it("is stuck after consecutive non-retryable failures, and well again after a success", () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: "info" }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const h = createWriteHealth(log);
    for (let i = 1; i < STUCK_AFTER; i++) h.failed("dedup", refused);
    expect(h.stuck()).toBe(false);
    h.failed("dedup", refused);
    expect(h.stuck()).toBe(true);
    h.failed("dedup", refused);
    // One error line, naming the step and the store's reason.
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ op: "dedup", attempts: STUCK_AFTER, err: { message: "Syntax error" } });
    h.succeeded();
    expect(h.stuck()).toBe(false);
  });

  it("is never stuck on failures a retry can cure (the store or broker away), and a streak needs to be unbroken", () => {
    const h = createWriteHealth(pino({ level: "silent" }));
    for (let i = 0; i < 50; i++) h.failed("insert", unavailable);
    expect(h.stuck()).toBe(false);
    h.failed("insert", refused);
    h.failed("insert", refused);
    h.failed("insert", unavailable);
    h.failed("insert", refused);
    expect(h.stuck()).toBe(false);
  });
});
