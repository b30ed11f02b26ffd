import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTokenmeter, type Tokenmeter } from "../apps/tokenmeter/src/app.js";
import { loadConfig } from "../apps/tokenmeter/src/config.js";
import { TEST_DATA_DIR, testDatabaseName } from "./support/store.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const bin = (name: string) => join(root, "node_modules/.bin", name);

// The SDK as someone outside the repository gets it: built, packed into
// tarballs, installed with npm into an empty project (offline: zod, its one
// third-party dependency, is put there first), and the README's example run
// against a started server.
describe("@tokenmeter/sdk as a published package", () => {
  const scratch = mkdtempSync(join(tmpdir(), "tm-sdk-"));
  let tm: Tokenmeter;

  beforeAll(async () => {
    const parsed = loadConfig({
      TOKENMETER_PORT: "0",
      TOKENMETER_DATA_DIR: TEST_DATA_DIR,
      TOKENMETER_CLICKHOUSE_DATABASE: testDatabaseName(),
      TOKENMETER_JWT_SECRET: "s".repeat(40),
      TOKENMETER_DEMO: "0",
      TOKENMETER_PRICING_SOURCE: "bundled",
    });
    if (!parsed.ok) throw new Error(parsed.errors.join("; "));
    tm = await startTokenmeter(parsed.config, { logger: pino({ level: "warn" }) });
  }, 120_000);
  afterAll(async () => {
    await tm?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("builds, packs and installs: JS and .d.ts only, no workspace references", async () => {
    const packs = join(scratch, "packs");
    for (const pkg of ["core", "sdk"]) {
      const dir = join(root, "packages", pkg);
      await run(bin("tsc"), ["-p", "tsconfig.build.json"], { cwd: dir });
      await run("npx", ["-y", "pnpm@10.26.0", "pack", "--pack-destination", packs], { cwd: dir, timeout: 60_000 });
    }
    const tarballs = readdirSync(packs).map((f) => join(packs, f));
    expect(tarballs).toHaveLength(2);
    writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }));
    cpSync(realpathSync(join(root, "packages/core/node_modules/zod")), join(scratch, "node_modules/zod"), { recursive: true });
    await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--no-package-lock", ...tarballs], {
      cwd: scratch,
      timeout: 60_000,
    });
    const installed = join(scratch, "node_modules/@tokenmeter/sdk");
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    expect(manifest.private).toBeUndefined();
    expect(manifest.exports["."]).toEqual({ types: "./dist/index.d.ts", import: "./dist/index.js" });
    expect(JSON.stringify(manifest.dependencies)).not.toContain("workspace:");
    const files = readdirSync(join(installed, "dist"));
    expect(files).toContain("index.js");
    expect(files).toContain("index.d.ts");
    expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
  }, 180_000);

  it("the README example type-checks against the .d.ts and sends an event the server counts", async () => {
    const readme = readFileSync(join(root, "packages/sdk/README.md"), "utf8");
    const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    expect(example.split("\n").filter((l) => l.trim()).length).toBeLessThanOrEqual(10);
    writeFileSync(join(scratch, "example.ts"), example.replace("http://127.0.0.1:8080", tm.url));
    await run(
      bin("tsc"),
      ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--skipLibCheck"].concat([
        "--typeRoots",
        join(root, "node_modules/@types"),
        "--types",
        "node",
        "example.ts",
      ]),
      { cwd: scratch },
    );
    const token = await tm.issueToken("org-sdk");
    await run(bin("tsx"), ["example.ts"], { cwd: scratch, env: { ...process.env, TOKENMETER_TOKEN: token }, timeout: 30_000 });
    // An explicit end: the default (now snapped down to the minute) leaves out this minute's events.
    const end = new Date(Date.now() + 60_000).toISOString();
    const res = await fetch(`${tm.url}/v1/analytics/models?end=${end}`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { models: { model: string; requests: number; cost_usd: number }[] };
    expect(body.models).toEqual([expect.objectContaining({ model: "gpt-4o-mini", requests: 1 })]);
    expect(body.models[0]?.cost_usd).toBeGreaterThan(0);
  }, 60_000);
});
