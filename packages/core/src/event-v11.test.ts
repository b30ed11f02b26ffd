import { describe, expect, it } from "vitest";
import { EVENT_LIMITS, UNIT_KEYS, validateEvent } from "./event.js";

// Event schema v1.1 (DESIGN.md): units, service_tier, image variant, tag limits.
const now = Date.parse("2026-06-01T12:00:00Z");
const base = {
  event_id: "6f1c1d1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f",
  event_time: "2026-06-01T11:59:00Z",
  org_id: "acme",
  provider: "openai",
  model: "dall-e-3",
  input_tokens: 0,
  output_tokens: 0,
  status_code: 200,
};
const errorsOf = (raw: object) => {
  const r = validateEvent(raw, { now });
  return r.ok ? [] : r.errors;
};

describe("event schema v1.1", () => {
  it("accepts every unit key, a tier and an image variant, and defaults the tier to standard", () => {
    const units = Object.fromEntries(UNIT_KEYS.map((k, i) => [k, i * 1.5]));
    const r = validateEvent(
      { ...base, operation: "image", units, service_tier: "batch", image_size: "1024x1024", image_quality: "hd" },
      { now },
    );
    expect(r.ok && [r.event.units, r.event.service_tier, r.event.image_size, r.event.image_quality]).toEqual([
      units,
      "batch",
      "1024x1024",
      "hd",
    ]);
    const plain = validateEvent(base, { now });
    expect(plain.ok && [plain.event.units, plain.event.service_tier, plain.event.image_size]).toEqual([{}, "standard", ""]);
  });

  it("rejects unknown unit keys, negative or non-numeric units and an unknown tier, each with its path and reason", () => {
    const errs = errorsOf({ ...base, units: { images: -1, seconds: 3, characters: "12" }, service_tier: "turbo" });
    const byPath = Object.fromEntries(errs.map((e) => [e.path, e.message]));
    expect(byPath["units.images"]).toBe("must be >= 0");
    expect(byPath["units.characters"]).toMatch(/number/);
    expect(byPath.units).toMatch(/unknown unit key\(s\) seconds; allowed: images, /);
    expect(byPath.service_tier).toBe("must be one of standard, batch, flex, priority");
  });

  it("enforces the tag limits with the reason, never truncating", () => {
    const longKey = "k".repeat(EVENT_LIMITS.maxTagKeyLength + 1);
    const errs = errorsOf({ ...base, tags: { ok: "v", "bad key": "v", [longKey]: "v", "cost.center:eu-1_x": "y".repeat(257) } });
    expect(errs.map((e) => e.path).sort()).toEqual(["tags.bad key", "tags.cost.center:eu-1_x", `tags.${longKey}`]);
    expect(errs.find((e) => e.path === "tags.bad key")?.message).toBe("tag keys are 1-64 characters of A-Z a-z 0-9 _ . : -");
    expect(errs.find((e) => e.path === "tags.cost.center:eu-1_x")?.message).toBe("tag values at most 256 characters");
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, "v"]));
    expect(errorsOf({ ...base, tags: many })).toEqual([{ path: "tags", message: "at most 20 tags" }]);
    const edge = { [`${"a".repeat(64)}`]: "z".repeat(256), "x.y:z-1_2": "" };
    expect(validateEvent({ ...base, tags: edge }, { now }).ok).toBe(true);
  });
});
