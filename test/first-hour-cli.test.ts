import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAllInOne, startAllInOne } from "./support/all-in-one.js";

const exec = promisify(execFile);
const root = join(import.meta.dirname, "..");
const CLI = join(root, "apps/tokenmeter/bin/tokenmeter");
const TSX = join(root, "node_modules/.bin/tsx");

/** Runs a command to its end; a non-zero exit is a result here, not a throw. */
async function run(file: string, args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec(file, args, { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const claims = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split(".")[1] as string, "base64url").toString()) as Record<string, number | string>;

// What a new user runs in the first hour, as real processes: the all-in-one
// started the way `pnpm start` starts it, the CLI through its bin script.
describe("the first hour at the command line", () => {
  let aio: RunningAllInOne;
  beforeAll(async () => {
    aio = await startAllInOne({ TOKENMETER_LOG_LEVEL: "info" });
  }, 120_000);
  afterAll(async () => {
    await aio?.stop();
  });

  it("start: JSON logs off a terminal, no per-flush lines for the demo, the URL block printed last", () => {
    const out = aio.output().trimEnd();
    expect(out).not.toContain('"msg":"flushed"');
    expect(out).toContain('"msg":"demo data loaded"');
    const block = out.slice(out.lastIndexOf("Tokenmeter is running."));
    expect(block).toMatch(/Dashboard:\s+http:\/\/127\.0\.0\.1:\d+\/#token=/);
    expect(block).not.toContain('{"level"');
    expect(out.endsWith("Ctrl+C stops it.")).toBe(true);
  });

  it("/metrics right after start reports the stored prices and when they were written", async () => {
    const text = await (await fetch(`${aio.url}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
    expect(value("tokenmeter_pricing_models")).toBeGreaterThan(50);
    const seeded = value("tokenmeter_pricing_last_success_timestamp_seconds");
    expect(seeded).toBeGreaterThan(Date.now() / 1000 - 600);
  });

  it("tokenmeter --help lists token; token --org mints a JWT from the all-in-one's generated secret", async () => {
    const help = await run(CLI, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^\s+token \[options\]\s+mint an API token/m);
    const minted = await run(CLI, ["token", "--org", "acme", "--ttl", "2h"], { TOKENMETER_DATA_DIR: aio.dataDir });
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    const c = claims(token);
    expect(c.org_id).toBe("acme");
    expect(Number(c.exp) - Number(c.iat)).toBe(7_200);
    const res = await fetch(`${aio.url}/v1/analytics/summary`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { requests: number }).requests).toBeGreaterThan(0);
  });

  it("token signs with TOKENMETER_JWT_SECRET when set; bad flags exit 2 with one line", async () => {
    const secret = "c".repeat(40);
    const minted = await run(CLI, ["token", "--org", "globex"], { TOKENMETER_JWT_SECRET: secret });
    const [h, p, sig] = minted.stdout.trim().split(".");
    expect(createHmac("sha256", secret).update(`${h}.${p}`).digest("base64url")).toBe(sig);
    expect(Number(claims(minted.stdout.trim()).exp) - Number(claims(minted.stdout.trim()).iat)).toBe(30 * 86_400);
    const bad = await run(CLI, ["token", "--org", "acme", "--ttl", "2y"], { TOKENMETER_JWT_SECRET: secret });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('tokenmeter token: --ttl must be a duration like 12h or 30d (1s to 366d), got "2y"');
  });

  it("a job on the data dir the all-in-one holds: one line saying so and what to do, no engine dump", async () => {
    const r = await run(CLI, ["migrate", "--check"], { TOKENMETER_DATA_DIR: aio.dataDir });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("is in use by a running Tokenmeter (pid ");
    expect(r.stderr).toMatch(/Stop it \(Ctrl\+C\)/);
    expect(r.stderr).not.toMatch(/Code: 76|Cannot lock|\n\s+at /);
  });

  it("a second start on a port in use: one line naming TOKENMETER_PORT and suggesting 0", async () => {
    const port = new URL(aio.url).port;
    const dir = mkdtempSync(join(tmpdir(), "tm-port-"));
    try {
      const r = await run(TSX, ["apps/tokenmeter/src/main.ts"], { TOKENMETER_PORT: port, TOKENMETER_DATA_DIR: dir });
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(
        `tokenmeter: port ${port} on 127.0.0.1 is already in use; set TOKENMETER_PORT to another port, or TOKENMETER_PORT=0 to pick a free one.`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("pnpm start --help prints help and starts nothing; --check-config echoes bad values and says required", async () => {
    const help = await run(TSX, ["apps/tokenmeter/src/main.ts", "--help"], { TOKENMETER_PORT: new URL(aio.url).port });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: pnpm start/);
    expect(help.stdout + help.stderr).not.toContain("Dashboard:");
    const bad = await run(TSX, ["apps/tokenmeter/src/main.ts", "--check-config"], { TOKENMETER_PORT: "80x", TOKENMETER_DEMO: "maybe" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('TOKENMETER_PORT="80x": must be a number');
    expect(bad.stderr).toContain('TOKENMETER_DEMO="maybe": must be 0/1/true/false');
    const missing = await run(TSX, ["services/query/src/main.ts", "--check-config"], { TOKENMETER_JWT_SECRET: "" });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("TOKENMETER_JWT_SECRET: required");
  });

  it("Ctrl+C drains, prints a stopped line and exits 0", async () => {
    const code = await new Promise<number | null>((resolve) => {
      aio.child.once("exit", (c) => resolve(c));
      aio.child.kill("SIGINT");
    });
    expect(code).toBe(0);
    expect(aio.output().trimEnd().endsWith("Tokenmeter stopped.")).toBe(true);
  });
});

// On a terminal (a pseudo-terminal from `script`): readable log lines, one
// progress line for the demo, the URL block last, Ctrl+C typed as a user does.
describe("the all-in-one on a terminal", () => {
  it("prints readable logs and one demo progress line, and stops on Ctrl+C with exit 0", async () => {
    const { spawn } = await import("node:child_process");
    const dir = mkdtempSync(join(tmpdir(), "tm-tty-"));
    const env = { TOKENMETER_DATA_DIR: dir, TOKENMETER_PORT: "0", TOKENMETER_DEMO_EVENTS: "20000", TOKENMETER_LOG_LEVEL: "info" };
    // `exec`: node itself is the terminal's foreground process, as under a user's interactive shell.
    // Without it `script` runs `$SHELL -c`, and where that is dash (SHELL unset or /bin/sh) the
    // shell stays in between and dies of the Ctrl+C itself: exit 130 whatever node does.
    const child = spawn("script", ["-qefc", `exec ${process.execPath} --import tsx apps/tokenmeter/src/main.ts`, "/dev/null"], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += String(d);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL block within 90 s:\n${out}`)), 90_000);
        const check = () => {
          if (!out.includes("Ctrl+C stops it.")) return;
          clearTimeout(timer);
          resolve();
        };
        child.stdout.on("data", check);
      });
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.stdin.write("\x03");
      expect(await exited).toBe(0);
      const text = out.replace(/\r/g, "\n");
      expect(text).not.toContain('{"level"');
      expect(text).toMatch(/INFO.*demo data loaded/);
      expect(text).toContain("Loading demo data… 100 %");
      expect(text).not.toMatch(/flushed/);
      expect(text.trimEnd().endsWith("Tokenmeter stopped.")).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
