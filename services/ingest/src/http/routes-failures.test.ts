import { StoreError, storeErrorFromCode } from "@tokenmeter/clickhouse";
import { issueToken } from "@tokenmeter/http";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import type { EventSink } from "../sink.js";
import { createIngestRoutes } from "./routes.js";
import { event, logger, newOrg, postEvents, secret, T } from "./routes-testing.js";

// Credentials and sink failures need no store: the sinks here fail on purpose.
const app = createIngestRoutes({
  sink: { write: async (e) => ({ accepted: e.length, duplicates: 0 }) },
  auth: { jwtSecret: secret },
  logger,
  now: () => T,
});
const post = (org: string | null, body: string, headers: Record<string, string> = {}, target: Parameters<typeof postEvents>[0] = app) =>
  postEvents(target, org, body, headers);

describe("POST /v1/events — auth and storage failures", () => {
  it("answers 401 for a missing, invalid or expired token", async () => {
    expect((await post(null, JSON.stringify([event()]))).status).toBe(401);
    expect((await post(null, JSON.stringify([event()]), { authorization: "Bearer not.a.jwt" })).status).toBe(401);
    const wrongKey = await issueToken("x".repeat(32), "acme");
    expect((await post(null, "[]", { authorization: `Bearer ${wrongKey}` })).status).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    const expired = await sign({ org_id: "acme", iat: now - 120, exp: now - 60 }, secret, "HS256");
    const res = await post(null, JSON.stringify([event()]), { authorization: `Bearer ${expired}` });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe("token expired");
  });

  it("answers 503 when the sink cannot make the events durable", async () => {
    const failing: EventSink = { write: () => Promise.reject(new Error("broker down")) };
    const failingApp = createIngestRoutes({ sink: failing, auth: { jwtSecret: secret }, logger, now: () => T });
    const res = await post(newOrg(), JSON.stringify([event()]), {}, failingApp);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unavailable");
  });

  it("answers 503 retryable only when retrying can help; a store error that repeats is a 500, not retryable", async () => {
    const cases: Array<[Error, number, boolean]> = [
      [storeErrorFromCode(210, "network"), 503, true],
      [new StoreError("unavailable", "closed", false), 503, true],
      [storeErrorFromCode(60, "unknown table"), 500, false],
    ];
    for (const [err, status, retryable] of cases) {
      const failingApp = createIngestRoutes({
        sink: { write: () => Promise.reject(err) },
        auth: { jwtSecret: secret },
        logger,
        now: () => T,
      });
      const res = await post(newOrg(), JSON.stringify([event()]), {}, failingApp);
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: { details: { retryable: boolean } } }).error.details.retryable).toBe(retryable);
    }
  });
});
