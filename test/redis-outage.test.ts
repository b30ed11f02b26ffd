/**
 * A Redis outage seen from the all-in-one (issue #14, item 5): the real entry
 * point with TOKENMETER_REDIS_URL on a redis-server of this test's own
 * (another loopback port; the machine's Redis on 6379 is never touched),
 * killed for 10 s and started again. Answers keep coming from the store,
 * /readyz says degraded, and the log holds a few warn lines (one per Redis
 * client: cache, pricing queue, pricing-updates subscriber), never a stack or
 * ioredis's "Unhandled error event".
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";

const dataDir = mkdtempSync(join(tmpdir(), "tm-redis-outage-"));
const children: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A throwaway redis-server on `port` (no persistence), resolved once it accepts connections. */
async function startRedis(port: number): Promise<ChildProcess> {
  const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(proc);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("redis-server did not start in 10 s")), 10_000);
    proc.stdout!.on("data", (d) => {
      if (String(d).includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once("exit", (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  return proc;
}

const exited = (p: ChildProcess) =>
  p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.once("exit", () => r()));

// 14 s alone; in the full suite the all-in-one's start shares two cores with other files' engines,
// so the bound is generous, and each stage's time is printed to tell a slow start from a hang.
it("answers through a 10 s Redis outage, reports it degraded, and logs it in a few warn lines without stacks", {
  timeout: 240_000,
}, async () => {
  const t0 = Date.now();
  const stages: string[] = [];
  const stage = (name: string) => stages.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const redisPort = await freePort();
  let redis = await startRedis(redisPort);
  let output = "";
  const app = spawn(process.execPath, ["--import", "tsx", "apps/tokenmeter/src/main.ts"], {
    env: {
      ...process.env,
      TOKENMETER_DATA_DIR: dataDir,
      TOKENMETER_PORT: "0",
      TOKENMETER_DEMO: "0",
      TOKENMETER_LOG_LEVEL: "info",
      TOKENMETER_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      TOKENMETER_REDIS_KEY_PREFIX: `outage-${redisPort}:q:`,
      TOKENMETER_REDIS_PREFIX: `outage-${redisPort}`,
      TOKENMETER_PRICING_QUEUE: `outage-${redisPort}`,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(app);
  app.stderr!.on("data", (d) => {
    output += String(d);
  });
  const { url, token } = await new Promise<{ url: string; token: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed within 60 s:\n${output}`)), 60_000);
    app.once("exit", (code) => reject(new Error(`exited with ${code}:\n${output}`)));
    app.stdout!.on("data", (d) => {
      output += String(d);
      const m = /Dashboard:\s+(http:\/\/[^/\s]+)\/#token=(\S+)/.exec(output);
      if (m?.[1] && m[2]) {
        clearTimeout(timer);
        resolve({ url: m[1], token: m[2] });
      }
    });
  });
  const get = async (path: string) => {
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  stage("started");
  expect((await get("/readyz")).body.status).toBe("ok");
  expect((await get("/v1/analytics/usage")).status).toBe(200);

  // 1. Redis goes away for 10 s: answers from the store, readiness degraded (not unready).
  const before = output.length;
  redis.kill("SIGKILL");
  await exited(redis);
  const outageEnds = Date.now() + 10_000;
  const seen = { readyz: new Set<string>(), statuses: new Set<number>() };
  while (Date.now() < outageEnds) {
    const ready = await get("/readyz");
    seen.readyz.add(`${ready.status} ${ready.body.status}`);
    for (const path of ["/v1/analytics/usage", "/v1/analytics/summary", "/v1/analytics/models"])
      seen.statuses.add((await get(path)).status);
    await sleep(500);
  }
  expect([...seen.readyz]).toEqual(["200 degraded"]);
  expect([...seen.statuses]).toEqual([200]);

  stage("outage over");
  // 2. Redis back on the same port: readiness recovers (bounded wait).
  redis = await startRedis(redisPort);
  const deadline = Date.now() + 20_000;
  while ((await get("/readyz")).body.status !== "ok" && Date.now() < deadline) await sleep(250);
  expect((await get("/readyz")).body.status).toBe("ok");
  await sleep(1_000);
  stage("recovered");
  app.kill("SIGTERM");
  await exited(app);
  stage("stopped");

  // 3. The log of the outage: a few warn lines (one per client), nothing at error, no stacks, no ioredis noise.
  const during = output.slice(before);
  const lines = during.split("\n").filter((l) => l.trim() !== "");
  const json = lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as { level: number; msg: string }];
    } catch {
      return [];
    }
  });
  process.stderr.write(
    `redis outage stages: ${stages.join(", ")}\nredis outage log: ${lines.length} lines, warn: ${json
      .filter((l) => l.level === 40)
      .map((l) => l.msg)
      .join(" | ")}\n`,
  );
  expect(during).not.toMatch(/Unhandled error event/);
  expect(during).not.toMatch(/"stack"|\n\s+at /);
  expect(json.filter((l) => l.level >= 50)).toEqual([]);
  const warns = json.filter((l) => l.level === 40);
  expect(warns.length).toBeGreaterThanOrEqual(1);
  expect(warns.length).toBeLessThanOrEqual(5);
  expect(json.filter((l) => /reachable again/.test(l.msg)).length).toBeGreaterThanOrEqual(1);
  // Nothing but JSON log lines and the all-in-one's own closing line for a person
  // ("Tokenmeter stopped.", printed as is like the URL block): stray console output
  // (ioredis' own printing) would show here.
  expect(lines.filter((l) => l !== "Tokenmeter stopped.").length).toBe(json.length);
});
