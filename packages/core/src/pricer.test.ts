import { describe, expect, it } from "vitest";
import { validateEvent } from "./event.js";
import { reportedOrUnpriced } from "./pricer.js";

const now = Date.parse("2026-06-01T12:00:00Z");
function event(extra: Record<string, unknown> = {}) {
  const base = { event_id: "6f1c1d1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f", event_time: "2026-06-01T11:59:00Z", org_id: "acme" };
  const r = validateEvent(
    { ...base, provider: "openai", model: "gpt-4o", input_tokens: 1, output_tokens: 1, status_code: 200, ...extra },
    { now },
  );
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.event;
}

describe("reportedOrUnpriced", () => {
  it("keeps a reported cost, zero included", () => {
    expect(reportedOrUnpriced.price(event({ cost_usd: 0.0123 }))).toEqual({
      cost_usd: 0.0123,
      cost_source: "reported",
      pricing_version: "",
    });
    expect(reportedOrUnpriced.price(event({ cost_usd: 0 })).cost_source).toBe("reported");
  });

  it("marks an event without a cost unpriced at 0", () => {
    expect(reportedOrUnpriced.price(event())).toEqual({ cost_usd: 0, cost_source: "unpriced", pricing_version: "" });
  });
});
