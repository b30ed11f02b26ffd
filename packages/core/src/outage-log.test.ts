import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { createOutageLog, describeError } from "./outage-log.js";

function recorder() {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  return {
    lines,
    warn: (obj: object, msg: string) => void lines.push({ level: "warn", obj: obj as Record<string, unknown>, msg }),
    info: (obj: object, msg: string) => void lines.push({ level: "info", obj: obj as Record<string, unknown>, msg }),
  };
}

describe("createOutageLog", () => {
  it("logs one warn line per outage and one info line when back, counting the errors between", () => {
    const r = recorder();
    let t = 1_000;
    const client = new EventEmitter();
    createOutageLog(r, "redis", () => t).watch(client);
    for (let i = 0; i < 50; i++) client.emit("error", new Error("connect ECONNREFUSED 127.0.0.1:6390"));
    t = 11_000;
    client.emit("ready");
    client.emit("ready");
    client.emit("error", new Error("read ECONNRESET"));
    expect(r.lines).toEqual([
      {
        level: "warn",
        obj: { op: "outage", dependency: "redis", error: "connect ECONNREFUSED 127.0.0.1:6390" },
        msg: "redis unreachable; retrying in the background",
      },
      { level: "info", obj: { op: "outage", dependency: "redis", down_ms: 10_000, errors: 50 }, msg: "redis reachable again" },
      {
        level: "warn",
        obj: { op: "outage", dependency: "redis", error: "read ECONNRESET" },
        msg: "redis unreachable; retrying in the background",
      },
    ]);
  });

  it("says nothing when a client connects without an outage", () => {
    const r = recorder();
    createOutageLog(r, "redis").recovered();
    expect(r.lines).toEqual([]);
  });

  it("describes errors without a message by their first inner error or code", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED ::1:6390"), { code: "ECONNREFUSED" });
    expect(describeError(new AggregateError([refused], ""))).toBe("connect ECONNREFUSED ::1:6390");
    expect(describeError(Object.assign(new Error(""), { code: "ETIMEDOUT" }))).toBe("ETIMEDOUT");
    expect(describeError("down")).toBe("down");
  });
});
