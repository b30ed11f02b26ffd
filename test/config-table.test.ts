import { readFileSync } from "node:fs";
import { KNOWN_SETTINGS, PROCESS_SCHEMAS, type ProcessName } from "@tokenmeter/config";
import { describe, expect, it } from "vitest";

// The README's configuration table is the operator's reference: it must list
// exactly the settings the processes' schemas declare, each with the
// processes that read it. Change a schema without the table (or back) and this fails.

const README = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const PROCESSES = Object.keys(PROCESS_SCHEMAS) as ProcessName[];

function table(): Map<string, string[]> {
  const start = README.indexOf("<!-- config-table:start -->");
  const end = README.indexOf("<!-- config-table:end -->");
  expect(start, "README has the config table markers").toBeGreaterThan(0);
  const rows = new Map<string, string[]>();
  for (const line of README.slice(start, end).split("\n")) {
    const m = /^\| `(TOKENMETER_[A-Z0-9_]+)` \|[^|]*\| ([^|]+) \|/.exec(line);
    if (!m) continue;
    const readBy = m[2]!.split(",").map((p) => p.trim());
    rows.set(m[1]!, readBy.includes("all") ? PROCESSES : readBy);
  }
  return rows;
}

describe("README configuration table", () => {
  it("lists every setting a schema declares, and nothing else", () => {
    expect([...table().keys()].sort()).toEqual([...KNOWN_SETTINGS].sort());
  });

  it("names, for each setting, exactly the processes whose schema reads it ('all' = every one)", () => {
    for (const [name, readBy] of table()) {
      for (const p of readBy) expect(PROCESSES, `${name}: unknown process "${p}" in "read by"`).toContain(p);
      const readers = PROCESSES.filter((p) => name in PROCESS_SCHEMAS[p].shape);
      expect({ name, readBy: [...readBy].sort() }).toEqual({ name, readBy: readers.sort() });
    }
  });
});
