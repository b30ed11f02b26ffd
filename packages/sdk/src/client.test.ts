import type { UsageEventInput } from "@tokenmeter/core";
import { describe, expect, it } from "vitest";
import { createUsageClient, InvalidEventError } from "./client.js";
import { PermanentSendError, type Rejected, type Transport } from "./transport.js";

const event = {
  org_id: "acme",
  provider: "openai",
  model: "gpt-4o",
  input_tokens: 10,
  output_tokens: 2,
  status_code: 200,
};

/** Records every send; fails the first `failures` calls. */
function fakeTransport(failures = 0, permanent = false): Transport & { calls: UsageEventInput[][] } {
  let left = failures;
  const calls: UsageEventInput[][] = [];
  return {
    requiresOrgId: true,
    calls,
    async send(events): Promise<Rejected[]> {
      calls.push(events);
      if (left-- > 0) throw permanent ? new PermanentSendError("no") : new Error("broker unavailable");
      return [];
    },
  };
}

describe("usage client", () => {
  it("fills event_id and event_time, batches, and flushes on close", async () => {
    const t = fakeTransport();
    const client = createUsageClient({ transport: t, maxBatch: 3, maxDelayMs: 60_000, flushOnExit: false });
    const ids = Array.from({ length: 7 }, () => client.track(event));
    expect(new Set(ids).size).toBe(7);
    await client.close();
    expect(t.calls.map((c) => c.length)).toEqual([3, 3, 1]);
    expect(t.calls.flat().map((e) => e.event_id)).toEqual(ids);
    expect(client.pending()).toBe(0);
  });

  it("retries a failed batch with the same event_ids", async () => {
    const t = fakeTransport(2);
    const client = createUsageClient({ transport: t, retryMinMs: 1, retryMaxMs: 2, flushOnExit: false });
    const id = client.track({ ...event, event_id: "6f1c1d1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f" });
    await client.flush();
    expect(t.calls.map((c) => c.map((e) => e.event_id))).toEqual([[id], [id], [id]]);
  });

  it("refuses an invalid event with the schema's field paths, and reports permanent failures", async () => {
    const errors: string[] = [];
    const t = fakeTransport(1, true);
    const client = createUsageClient({ transport: t, flushOnExit: false, onError: (err) => errors.push(err.message) });
    expect(() => client.track({ ...event, input_tokens: -1, org_id: undefined })).toThrow(InvalidEventError);
    try {
      client.track({ ...event, input_tokens: -1 });
    } catch (err) {
      expect((err as InvalidEventError).errors.map((e) => e.path)).toEqual(["input_tokens"]);
    }
    client.track(event);
    await client.close();
    expect(t.calls).toHaveLength(1);
    expect(errors).toEqual(["no"]);
    expect(() => client.track(event)).toThrow(/closed/);
  });

  it("refuses ill-formed Unicode client-side, as both ingest paths do (the engine cannot store it)", async () => {
    const t = fakeTransport();
    const client = createUsageClient({ transport: t, flushOnExit: false });
    const bad: Array<Partial<UsageEventInput>> = [{ session_id: "\ud800" }, { tags: { team: "a\udc00" } }, { tags: { "k\ud83d": "v" } }];
    for (const fields of bad) {
      let caught: unknown = null;
      try {
        client.track({ ...event, ...fields });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(InvalidEventError);
      expect((caught as InvalidEventError).errors[0]?.message).toMatch(/well-formed Unicode/);
    }
    await client.close();
    expect(t.calls).toHaveLength(0);
  });
});
