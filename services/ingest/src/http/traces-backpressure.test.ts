import { decodeProtobufResponse, decodeProtobufStatus } from "@tokenmeter/otlp";
import { describe, expect, it } from "vitest";
import { chatSpan, otlpExport } from "../../../../test/support/otlp-export.js";
import { TooManyRefusedError } from "../dedup/bisect.js";
import type { EventSink } from "../sink.js";
import { createTraceRoutes } from "./traces.js";
import { bytes, logger, newOrg, postTo, protobuf, secret, T } from "./traces-testing.js";

// Backpressure and store outcomes, with sinks that hold, fail or refuse on purpose.
const post = (
  org: string,
  body: Uint8Array | string,
  type: string,
  headers: Record<string, string>,
  target: Parameters<typeof postTo>[0],
) => postTo(target, org, body, type, headers);

describe("POST /v1/traces — backpressure and storage", () => {
  it("429 + Retry-After when too many exports are in progress; 503 + Retry-After when the sink fails", async () => {
    let release = () => {};
    const blocked = new Promise<void>((r) => {
      release = r;
    });
    const slow: EventSink = {
      write: async (e) => {
        await blocked;
        return { accepted: e.length, duplicates: 0 };
      },
    };
    const limited = createTraceRoutes({ sink: slow, auth: { jwtSecret: secret }, logger, maxConcurrent: 1, now: () => T });
    const org = newOrg();
    const body = JSON.stringify(otlpExport([chatSpan(T - 60_000)]));
    const first = post(org, body, "application/json", {}, limited);
    await new Promise((r) => setTimeout(r, 50));
    const second = await post(org, body, "application/json", {}, limited);
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toBe("1");
    release();
    expect((await first).status).toBe(200);

    const failing: EventSink = { write: async () => Promise.reject(new Error("broker down")) };
    const down = createTraceRoutes({ sink: failing, auth: { jwtSecret: secret }, logger, now: () => T });
    const res = await post(org, protobuf(otlpExport([chatSpan(T - 60_000)])), "application/x-protobuf", {}, down);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(decodeProtobufStatus(await bytes(res)).code).toBe(14);
  });

  it("429 + Retry-After while the exports in progress hold the in-flight byte budget; the budget comes back after", async () => {
    let release = () => {};
    const blocked = new Promise<void>((r) => {
      release = r;
    });
    const slow: EventSink = {
      write: async (e) => {
        await blocked;
        return { accepted: e.length, duplicates: 0 };
      },
    };
    const org = newOrg();
    const body = JSON.stringify(otlpExport(Array.from({ length: 20 }, () => chatSpan(T - 60_000))));
    const limited = createTraceRoutes({
      sink: slow,
      auth: { jwtSecret: secret },
      logger,
      maxInFlightBytes: body.length + 100,
      now: () => T,
    });
    const first = post(org, body, "application/json", {}, limited);
    await new Promise((r) => setTimeout(r, 50));
    const second = await post(org, body, "application/json", {}, limited);
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toBe("1");
    release();
    expect((await first).status).toBe(200);
    expect((await post(org, body, "application/json", {}, limited)).status).toBe(200);
  });

  it("a store error retrying cannot fix is a 500 (not retried by exporters); rows the store refuses are rejected spans", async () => {
    const org = newOrg();
    const body = protobuf(otlpExport([chatSpan(T - 60_000), chatSpan(T - 50_000)]));
    const hopeless: EventSink = { write: async () => Promise.reject(new TooManyRefusedError("a bad statement")) };
    const broken = createTraceRoutes({ sink: hopeless, auth: { jwtSecret: secret }, logger, now: () => T });
    const res = await post(org, body, "application/x-protobuf", {}, broken);
    expect(res.status).toBe(500);
    expect(res.headers.get("retry-after")).toBeNull();
    expect(decodeProtobufStatus(await bytes(res)).code).toBe(13);

    const picky: EventSink = {
      write: async (e) => ({
        accepted: e.length - 1,
        duplicates: 0,
        refused: [{ index: 1, reason: "Cannot parse input: column session_id" }],
      }),
    };
    const refusing = createTraceRoutes({ sink: picky, auth: { jwtSecret: secret }, logger, now: () => T });
    const answer = decodeProtobufResponse(await bytes(await post(org, body, "application/x-protobuf", {}, refusing)));
    expect(answer.rejectedSpans).toBe(1);
    expect(answer.errorMessage).toMatch(/^span [0-9a-f]{16} \(gen_ai\): refused by the store: Cannot parse input: column session_id$/);
  });
});
