import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import {
  DEDUP_WINDOW_MS,
  dedupToken,
  eventKey,
  findStoredKeys,
  idFilters,
  MAX_EXACT_IDS,
  MAX_IDS_PER_LOOKUP,
  storedEventIdsSql,
  storedIdParams,
} from "./stored-ids.js";

describe("dedup SQL and token", () => {
  it("builds the stored-id lookup, parameterized, bounded by the batch's time range ± 1 day", () => {
    const [exact] = idFilters(["6f1c1d1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f"]);
    expect(storedEventIdsSql(exact!)).toBe(`SELECT DISTINCT org_id, toString(event_id) AS id
FROM llm_usage
WHERE org_id IN {orgs:Array(String)}
  AND event_time >= {from:DateTime64(3, 'UTC')}
  AND event_time <= {to:DateTime64(3, 'UTC')}
  AND event_id IN {ids:Array(UUID)}`);
    expect(exact!.ids).toEqual(["6f1c1d1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f"]);
    const q = {
      orgs: ["acme"],
      ids: ["x"],
      minTimeMs: Date.parse("2026-06-01T00:00:00Z"),
      maxTimeMs: Date.parse("2026-06-01T10:30:00.250Z"),
    };
    expect(DEDUP_WINDOW_MS).toBe(86_400_000);
    expect(storedIdParams(q)).toEqual({ orgs: ["acme"], from: "2026-05-31 00:00:00.000", to: "2026-06-02 10:30:00.250" });
    // Past MAX_EXACT_IDS: the top 48 bits as decimals, in statements of MAX_IDS_PER_LOOKUP.
    expect(idFilters(Array.from({ length: MAX_EXACT_IDS }, () => "x"))).toHaveLength(1);
    const many = idFilters(Array.from({ length: MAX_IDS_PER_LOOKUP + 1 }, () => "6F1C1D1E-8A2B-4C3D-9E4F-0A1B2C3D4E5F"));
    expect(many.map((f) => (f.ids as string).split("_").length)).toEqual([MAX_IDS_PER_LOOKUP, 1]);
    expect(many[1]!.ids).toBe(String(0x6f1c1d1e8a2b));
    expect(storedEventIdsSql(many[0]!)).toContain(
      "AND bitShiftRight(toUInt128(event_id), 80) IN (SELECT toUInt64(arrayJoin(splitByChar('_', {ids:String}))))",
    );
    // A store without a URL limit (the embedded engine) takes the whole batch in one statement.
    expect(
      idFilters(
        Array.from({ length: MAX_IDS_PER_LOOKUP + 1 }, () => "6F1C1D1E-8A2B-4C3D-9E4F-0A1B2C3D4E5F"),
        64 << 20,
      ),
    ).toHaveLength(1);
    expect(idFilters([])).toEqual([]);
  });

  it("keys events by org and lower-cased event_id; the token depends on keys and order only", () => {
    expect(eventKey("acme", "6F1C1D1E-8A2B-4C3D-9E4F-0A1B2C3D4E5F")).toBe(eventKey("acme", "6f1c1d1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f"));
    expect(eventKey("acme", "a")).not.toBe(eventKey("globex", "a"));
    expect(dedupToken(["a", "b"])).toBe(dedupToken(["a", "b"]));
    expect(dedupToken(["a", "b"])).not.toBe(dedupToken(["b", "a"]));
    expect(dedupToken(["ab"])).not.toBe(dedupToken(["a", "b"]));
    expect(dedupToken([])).toMatch(/^tm1-[0-9a-f]{64}$/);
  });
});

describe("findStoredKeys on the engine", () => {
  it("finds the events already stored, within the window, for their own org", async () => {
    const store = await openTestStore();
    try {
      const t = Date.parse("2026-06-01T12:00:00Z");
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      const row = (event_id: string, org_id: string, ms: number) => ({
        event_id,
        org_id,
        event_time: new Date(ms).toISOString().replace("T", " ").replace("Z", ""),
        provider: "openai",
        model: "m",
      });
      await store.insert("llm_usage", [row(a, "acme", t), row(b, "globex", t), row(c, "acme", t - 3 * DEDUP_WINDOW_MS)]);
      const found = await findStoredKeys(store, { orgs: ["acme"], ids: [a, b, c, randomUUID()], minTimeMs: t, maxTimeMs: t });
      expect(found).toEqual(new Set([eventKey("acme", a)]));
      // A batch past MAX_EXACT_IDS takes the top-bits form: same answer, upper-case ids included;
      // an id sharing a's top 48 bits may come back from the statement, its key never matches.
      const twin = `${a.slice(0, 13)}${randomUUID().slice(13)}`;
      const big = [...Array.from({ length: MAX_EXACT_IDS }, () => randomUUID()), twin.toUpperCase(), a.toUpperCase(), c];
      const bigFound = await findStoredKeys(store, { orgs: ["acme"], ids: big, minTimeMs: t, maxTimeMs: t });
      expect(bigFound.has(eventKey("acme", a))).toBe(true);
      expect(bigFound.has(eventKey("acme", twin))).toBe(false);
      expect(bigFound.has(eventKey("acme", c))).toBe(false);
      expect(await findStoredKeys(store, { orgs: ["acme"], ids: [], minTimeMs: t, maxTimeMs: t })).toEqual(new Set());
    } finally {
      await dropTestStore(store);
    }
  });
});
