import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The README's first command, as a user runs it: the real entry point on a
// fresh data dir, demo data on, the printed URL and token used as printed.
describe("quick start (pnpm start)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tm-quickstart-"));
  let child: ChildProcess;
  let url = "";
  let token = "";
  let output = "";

  beforeAll(async () => {
    child = spawn(process.execPath, ["--import", "tsx", "apps/tokenmeter/src/main.ts"], {
      env: {
        ...process.env,
        TOKENMETER_DATA_DIR: dataDir,
        TOKENMETER_PORT: "0",
        TOKENMETER_DEMO_EVENTS: "20000",
        TOKENMETER_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr?.on("data", (d) => {
      output += String(d);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no dashboard URL printed within 90 s:\n${output}`)), 90_000);
      child.once("exit", (code) => reject(new Error(`exited with ${code}:\n${output}`)));
      child.stdout?.on("data", (d) => {
        output += String(d);
        const m = /Dashboard:\s+(http:\/\/[^/\s]+)\/#token=(\S+)/.exec(output);
        if (m?.[1] && m[2]) {
          url = m[1];
          token = m[2];
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("serves non-empty, zero-filled usage to the printed token", async () => {
    const res = await fetch(`${url}/v1/analytics/usage?granularity=day`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { series: { bucket: string; requests: number }[]; totals: { requests: number } };
    // Default range: 7 days ending now snapped to the minute → 7 or 8 day buckets, in order, none missing.
    expect(body.series.length).toBeGreaterThanOrEqual(7);
    expect(body.series.length).toBeLessThanOrEqual(8);
    const starts = body.series.map((s) => Date.parse(s.bucket));
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBe(86_400_000);
    expect(body.totals.requests).toBeGreaterThan(0);
    expect(body.totals.requests).toBe(body.series.reduce((s, b) => s + b.requests, 0));
  });

  it("serves the dashboard page and refuses a request without a token", async () => {
    expect((await fetch(`${url}/`)).status).toBe(200);
    expect((await fetch(`${url}/v1/analytics/usage`)).status).toBe(401);
  });

  it("drains and exits 0 on SIGTERM", async () => {
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
