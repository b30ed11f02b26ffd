import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

function configFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === "node_modules") continue;
    if (statSync(path).isDirectory()) out.push(...configFiles(path));
    else if (/config\.ts$/.test(name)) out.push(path);
  }
  return out;
}

describe("README", () => {
  it("documents every environment variable a config schema reads", () => {
    const table = readme.slice(readme.indexOf("<!-- config-table:start -->"), readme.indexOf("<!-- config-table:end -->"));
    const vars = new Set<string>();
    for (const dir of ["apps", "services", "packages"]) {
      for (const file of configFiles(join(root, dir))) {
        for (const m of readFileSync(file, "utf8").matchAll(/\b(TOKENMETER_[A-Z0-9_]+)\b/g)) {
          if (!m[1]!.endsWith("_")) vars.add(m[1]!);
        }
      }
    }
    expect(vars.size).toBeGreaterThan(10);
    const missing = [...vars].filter((v) => !table.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });

  it("has exactly two quick-start lines, and .ci/run runs the second", () => {
    const section = readme.slice(readme.indexOf("## Quick start"));
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
    const lines = block.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/ start$/);
    expect(lines[1]).toMatch(/ test$/);
    const ci = readFileSync(join(root, ".ci/run"), "utf8");
    expect(ci.split("\n")).toContain(lines[1]);
  });
});
