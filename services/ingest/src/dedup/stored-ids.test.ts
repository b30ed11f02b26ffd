import { randomUUID } from "node:crypto";
import type { Store } from "@tokenmeter/clickhouse";
import { describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import {
  DEDUP_WINDOW_MS,
  dedupToken,
  eventKey,
  findStoredKeys,
  fingerprint,
  idFilters,
  MAX_EXACT_IDS,
  MAX_IDS_PER_LOOKUP,
  queryByIds,
  storedEventIdsSql,
  storedIdParams,
  storedIdQuery,
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
    // Past MAX_EXACT_IDS: a 48-bit fingerprint as decimals, in statements of MAX_IDS_PER_LOOKUP:
    // the low 48 bits of the high half XOR those of the low half.
    expect(idFilters(Array.from({ length: MAX_EXACT_IDS }, () => "x"))).toHaveLength(1);
    const many = idFilters(Array.from({ length: MAX_IDS_PER_LOOKUP + 1 }, () => "6F1C1D1E-8A2B-4C3D-9E4F-0A1B2C3D4E5F"));
    expect(many.map((f) => (f.ids as string).split("_").length)).toEqual([MAX_IDS_PER_LOOKUP, 1]);
    const expected = String(Number(BigInt("0x1d1e8a2b4c3d") ^ BigInt("0x0a1b2c3d4e5f")));
    expect(many[1]!.ids).toBe(expected);
    expect(fingerprint("6f1c1d1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f")).toBe(expected);
    expect(storedEventIdsSql(many[0]!)).toContain(
      "AND toUInt64(bitXor(bitAnd(bitShiftRight(toUInt128(event_id), 64), 281474976710655), bitAnd(toUInt128(event_id), 281474976710655))) IN (SELECT toUInt64(arrayJoin(splitByChar('_', {ids:String}))))",
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
      // A batch past MAX_EXACT_IDS, both ways it can go: the ids as rows (the embedded engine's
      // queryWithIds, exact) and the fingerprint parameter (a server's). Same answer, upper-case ids
      // included; an id sharing a's fingerprint may come back from the statement, its key never matches.
      const asServer = withoutIdsTable(store);
      const twin = fingerprintTwin(a);
      expect(fingerprint(twin)).toBe(fingerprint(a));
      const big = [...Array.from({ length: MAX_EXACT_IDS }, () => randomUUID()), twin.toUpperCase(), a.toUpperCase(), c];
      for (const s of [store, asServer]) {
        const bigFound = await findStoredKeys(s, { orgs: ["acme"], ids: big, minTimeMs: t, maxTimeMs: t });
        expect(bigFound.has(eventKey("acme", a))).toBe(true);
        expect(bigFound.has(eventKey("acme", twin))).toBe(false);
        expect(bigFound.has(eventKey("acme", c))).toBe(false);
      }
      expect(await findStoredKeys(store, { orgs: ["acme"], ids: [], minTimeMs: t, maxTimeMs: t })).toEqual(new Set());
    } finally {
      await dropTestStore(store);
    }
  });
});

describe("a lookup of time-ordered ids (UUIDv7: the first 48 bits are the millisecond)", () => {
  it("returns only the stored copies asked for, not every event of the same milliseconds", async () => {
    const store = await openTestStore();
    try {
      const t = Date.parse("2026-06-01T12:00:00Z");
      const v7 = () => {
        const r = randomUUID();
        return `${t
          .toString(16)
          .padStart(12, "0")
          .replace(/^(.{8})/, "$1-")}-7${r.slice(15)}`;
      };
      const stored = Array.from({ length: 5_000 }, v7);
      const rows = stored.map((event_id) => ({
        event_id,
        org_id: "acme",
        event_time: "2026-06-01 12:00:00.000",
        provider: "openai",
        model: "m",
      }));
      await store.insert("llm_usage", rows);
      const asked = [...Array.from({ length: MAX_EXACT_IDS + 5_000 }, v7), stored[0]!, stored[1]!];
      const q = storedIdQuery(
        asked.map((event_id) => ({ org_id: "acme", event_id })),
        () => t,
      );
      for (const s of [store, withoutIdsTable(store)]) {
        const returned = await queryByIds(s, storedEventIdsSql, storedIdParams(q), q.ids);
        // The top 48 bits (the earlier form) matched all 5,000 stored rows of that millisecond.
        expect(returned.length).toBeGreaterThanOrEqual(2);
        expect(returned.length).toBeLessThan(10);
        const keys = await findStoredKeys(s, q);
        expect(keys.has(eventKey("acme", stored[0]!))).toBe(true);
        expect(keys.has(eventKey("acme", stored[1]!))).toBe(true);
      }
    } finally {
      await dropTestStore(store);
    }
  });
});

/** The same store as a server driver sees it: no ids table, ids go as parameters. */
function withoutIdsTable(store: Store): Store {
  return {
    database: store.database,
    maxParamBytes: store.maxParamBytes,
    query: (sql, params, opts) => store.query(sql, params, opts),
    insert: (table, rows, opts) => store.insert(table, rows, opts),
    command: (sql, params, opts) => store.command(sql, params, opts),
    close: () => store.close(),
  };
}

/** Another UUID with the same fingerprint: its high half's low 48 bits flipped, and its low half's the same way. */
function fingerprintTwin(id: string): string {
  const hex = id.replace(/-/g, "");
  const flip = (h: string) => (Number.parseInt(h, 16) ^ 0xabcdef).toString(16).padStart(6, "0");
  const twin = hex.slice(0, 4) + flip(hex.slice(4, 10)) + hex.slice(10, 20) + flip(hex.slice(20, 26)) + hex.slice(26);
  return `${twin.slice(0, 8)}-${twin.slice(8, 12)}-${twin.slice(12, 16)}-${twin.slice(16, 20)}-${twin.slice(20)}`;
}
