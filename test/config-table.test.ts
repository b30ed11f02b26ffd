import { spawnSync } from "node:child_process";
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

describe("--check-config", () => {
  const run = (entry: string, env: Record<string, string>) =>
    spawnSync("node_modules/.bin/tsx", [entry, "--check-config"], {
      cwd: new URL("..", import.meta.url),
      env: { PATH: process.env.PATH ?? "", ...env },
      encoding: "utf8",
      timeout: 60_000,
    });

  it.each([
    ["services/query/src/main.ts", { TOKENMETER_JWT_SECRET: "q".repeat(32) }],
    ["services/ingest/src/main.ts", { TOKENMETER_JWT_SECRET: "q".repeat(32) }],
    ["services/pricing-refresh/src/main.ts", { TOKENMETER_REDIS_URL: "redis://127.0.0.1:6379" }],
    ["apps/tokenmeter/src/main.ts", {}],
  ])("%s fails on a misspelt setting and names the one meant, passes without it", (entry, env) => {
    const bad = run(entry, { ...env, TOKENMETER_PROT: "9000" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("TOKENMETER_PROT: not a Tokenmeter setting (did you mean TOKENMETER_PORT?)");
    expect(run(entry, env).status).toBe(0);
  });
});
