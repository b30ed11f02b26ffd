import { randomUUID } from "node:crypto";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import {
  reportedOrUnpriced,
  toUsageRow,
  USAGE_TSV_COLUMNS,
  USAGE_TSV_HEADER,
  type UsageEvent,
  usageTsvLine,
  validateEvent,
} from "@tokenmeter/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liveEvents } from "./support/kafka.js";
import { dropTestStore, openTestStore } from "./support/store.js";

/**
 * The writers insert TabSeparatedWithNames lines built straight from the
 * event (usageTsvLine); tests and tools insert row objects as JSONEachRow
 * (toUsageRow). Both must store exactly the same row, whatever the strings hold.
 */
describe("llm_usage rows: TSV lines and JSON rows store the same values", () => {
  let store: ChdbStore;
  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(async () => dropTestStore(store));

  const nasty = [
    "tab\there",
    "new\nline",
    "cr\rhere",
    "back\\slash",
    "quote'single",
    'quote"double',
    "nul\0x",
    "ünïcødé ✓ 🚀",
    "{'a':'b'}",
    "\\t literal",
    "",
  ];

  function events(): UsageEvent[] {
    const now = Date.now();
    const base = liveEvents(200, 21);
    const tricky = nasty.map((s, i) => ({
      ...base[i]!,
      event_id: randomUUID().toUpperCase(),
      project_id: s,
      user_id: `u ${s}`,
      session_id: s,
      error_code: i % 2 === 0 ? s : "",
      call_sequence: i,
      cost_usd: i % 3 === 0 ? undefined : 1e-7 * (i + 1),
      duration_ms: i % 4 === 0 ? undefined : i * 13,
      streaming: i % 2 === 0,
      // Keys are [A-Za-z0-9_.:-] since v1.1; the hostile text rides in the values.
      tags: s === "" ? {} : { [`k.${i}:x-y_z`]: s, team: `v\\${i}'x`, plain: "p" },
      // v1.1 columns through both formats (units as Map(String, Float64)).
      ...(i % 2 === 0
        ? {
            units: { images: i, audio_input_seconds: 0.5 * i },
            service_tier: "batch",
            image_size: `${s.slice(0, 10)}x`,
            image_quality: "hd",
          }
        : {}),
    }));
    return [...base, ...tricky].map((e) => {
      const v = validateEvent(e, { now });
      if (!v.ok) throw new Error(JSON.stringify(v.errors));
      return v.event;
    });
  }

  it("writes every column of the row, in one fixed order", () => {
    const e = events()[0]!;
    expect([...USAGE_TSV_COLUMNS].sort()).toEqual(Object.keys(toUsageRow(e, reportedOrUnpriced.price(e), "s")).sort());
    expect(usageTsvLine(e, reportedOrUnpriced.price(e), "s").split("\t")).toHaveLength(USAGE_TSV_COLUMNS.length);
  });

  it("reads back identically from both formats, for ordinary and hostile strings", async () => {
    const all = events();
    const json = all.map((e) => toUsageRow(e, reportedOrUnpriced.price(e), `json:${e.event_id}`));
    await store.insert("llm_usage", json);
    const tsv = USAGE_TSV_HEADER + all.map((e) => usageTsvLine(e, reportedOrUnpriced.price(e), `tsv:${e.event_id}`)).join("");
    await store.insert("llm_usage", tsv, { format: "TabSeparatedWithNames" });
    const cols = USAGE_TSV_COLUMNS.filter((c) => c !== "source").join(", ");
    const read = async (prefix: string) =>
      store.query(`SELECT ${cols} FROM llm_usage WHERE startsWith(source, {p:String}) ORDER BY event_id FORMAT JSONEachRow`, { p: prefix });
    const fromJson = await read("json:");
    const fromTsv = await read("tsv:");
    expect(fromJson).toHaveLength(all.length);
    expect(fromTsv).toEqual(fromJson);
    // The hostile strings arrived intact (not only equal to each other).
    const projects = new Set(fromTsv.map((r) => (r as { project_id: string }).project_id));
    for (const s of nasty) expect(projects.has(s)).toBe(true);
  });
});
