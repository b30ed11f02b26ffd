import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ChdbStore, loadMigrations, type Store } from "@tokenmeter/clickhouse";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backfillJob } from "../apps/tokenmeter/src/commands/backfill.js";
import { migrateJob } from "../apps/tokenmeter/src/commands/migrate.js";
import { rebuildRollupsJob } from "../apps/tokenmeter/src/commands/rebuild-rollups.js";
import { loadJobConfig } from "../apps/tokenmeter/src/jobs/config.js";
import type { JobContext } from "../apps/tokenmeter/src/jobs/run.js";
import { type ClickHouseHttpServer, startClickHouseHttpServer } from "./support/clickhouse-http-server.js";
import { dropTestStore, openTestStore, TEST_DATA_DIR, testDatabaseName } from "./support/store.js";

const CLI = fileURLToPath(new URL("../apps/tokenmeter/bin/tokenmeter", import.meta.url));
const run = promisify(execFile);
const logger = pino({ level: "silent" });
const loaded = loadJobConfig({});
if (!loaded.ok) throw new Error(loaded.errors.join("; "));
const config = loaded.config;

// Events of last month: always inside the raw TTL, whatever day the suite runs.
const now = new Date();
const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
const FROM = month.toISOString().slice(0, 10);
const TO = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString().slice(0, 10);

function eventsFile(dir: string, n: number, extra: string[] = []): string {
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      event_id: randomUUID(),
      event_time: new Date(month.getTime() + i * 3_600_000).toISOString(),
      org_id: `org_${i % 3}`,
      agent_id: `agent_${i % 4}`,
      provider: "OpenAI",
      model: "gpt-4o-mini",
      input_tokens: 100 + i,
      output_tokens: 20,
      cost_usd: 0.001,
      duration_ms: 100 + (i % 50),
      status_code: i % 10 === 0 ? 429 : 200,
    }),
  );
  const file = join(dir, `events-${randomUUID()}.ndjson`);
  writeFileSync(file, `${[...lines, ...extra].join("\n")}\n`);
  return file;
}

describe("jobs in-process on the real engine", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "tokenmeter-jobs-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const totals = async (ctx: JobContext) => {
    const q = (t: string, count: string) =>
      ctx.store.query(`SELECT ${count} AS requests, sum(input_tokens) AS input, round(sum(cost_usd), 6) AS cost FROM ${t}`);
    return {
      raw: await q("llm_usage", "count()"),
      daily: await q("llm_usage_daily", "sum(requests)"),
      hourly: await q("llm_usage_hourly", "sum(requests)"),
    };
  };

  it("migrate: --check fails while pending, applying twice is a no-op the second time, then --check passes", async () => {
    const store = await openTestStore({ migrated: false });
    const ctx = { store, logger, config };
    try {
      expect(await migrateJob(ctx, { check: true })).toBe(1);
      expect(await migrateJob(ctx, {})).toBe(0);
      const tables = await store.query("SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name", { db: store.database });
      expect(await migrateJob(ctx, {})).toBe(0);
      expect(
        await store.query("SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name", { db: store.database }),
      ).toEqual(tables);
      expect(await store.query("SELECT count() AS n FROM schema_migrations FINAL")).toEqual([{ n: loadMigrations().length }]);
      expect(await migrateJob(ctx, { check: true, waitSeconds: 1, pollMs: 100 })).toBe(0);
    } finally {
      await dropTestStore(store);
    }
  });

  it("backfill then rebuild-rollups, each twice: nothing lands twice and rollups equal raw", async () => {
    const store = await openTestStore();
    const ctx = { store, logger, config };
    try {
      const file = eventsFile(dir, 500);
      // Small chunks: ten writes, more than the writer keeps in flight at once.
      const args = { from: new Date(FROM), to: new Date(TO), file, chunk: 50 };
      expect(await backfillJob(ctx, args)).toBe(0);
      const once = await totals(ctx);
      expect(once.raw).toEqual([{ requests: 500, input: expect.any(Number), cost: 0.5 }]);
      expect(await backfillJob(ctx, args)).toBe(0);
      expect(await totals(ctx)).toEqual(once);
      expect(once.daily).toEqual(once.raw);
      expect(once.hourly).toEqual(once.raw);

      const months = { fromMonth: FROM.slice(0, 7), toMonth: FROM.slice(0, 7), force: false };
      expect(await rebuildRollupsJob(ctx, months)).toBe(0);
      expect(await totals(ctx)).toEqual(once);
      expect(await rebuildRollupsJob(ctx, months)).toBe(0);
      expect(await totals(ctx)).toEqual(once);
    } finally {
      await dropTestStore(store);
    }
  });

  it("backfill: bad lines exit 1 without losing the good ones; events outside the range are left out", async () => {
    const store = await openTestStore();
    const ctx = { store, logger, config };
    try {
      const file = eventsFile(dir, 50, ["{not json", JSON.stringify({ event_id: "nope" })]);
      expect(await backfillJob(ctx, { from: new Date(FROM), to: new Date(month.getTime() + 10 * 3_600_000), file })).toBe(1);
      expect(await store.query("SELECT count() AS n FROM llm_usage")).toEqual([{ n: 10 }]);
    } finally {
      await dropTestStore(store);
    }
  });
});

/**
 * The CLI as k8s runs it: its own process, settings from the environment, a
 * ClickHouse *server* over HTTP (TOKENMETER_CLICKHOUSE_URL), JSON logs on
 * stdout, an exit code. The server is the chDB-backed test double in
 * test/support (no ClickHouse server installs here); it runs in this process,
 * so the test reads the same engine directly to check the data.
 */
describe("jobs as CLI processes against a ClickHouse HTTP endpoint", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let server: ClickHouseHttpServer;
  let store: Store;
  const database = testDatabaseName();
  const emptyDatabase = testDatabaseName();
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tokenmeter-cli-"));
    server = await startClickHouseHttpServer({ dataDir: TEST_DATA_DIR, username: "tokenmeter", password: "pw-for-tests" });
    env = {
      PATH: process.env.PATH,
      TOKENMETER_CLICKHOUSE_URL: server.url,
      TOKENMETER_CLICKHOUSE_USER: "tokenmeter",
      TOKENMETER_CLICKHOUSE_PASSWORD: "pw-for-tests",
      TOKENMETER_CLICKHOUSE_DATABASE: database,
      // Never used with a URL; a directory the test would notice if it appeared.
      TOKENMETER_DATA_DIR: join(dir, "must-not-exist"),
    };
    store = await ChdbStore.open({ dataDir: TEST_DATA_DIR, database });
  });
  afterAll(async () => {
    await store.command(`DROP DATABASE IF EXISTS ${emptyDatabase}`);
    await dropTestStore(store);
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  type Result = { code: number; logs: Array<Record<string, unknown>>; stdout: string; stderr: string };
  async function cli(...input: [Record<string, string>, ...string[]] | string[]): Promise<Result> {
    const [first, ...rest] = input;
    const [extra, args] = typeof first === "object" ? [first, rest as string[]] : [{}, input as string[]];
    try {
      const r = await run(CLI, args, { env: { ...env, ...extra }, timeout: 60_000 });
      return { code: 0, logs: parseLogs(r.stdout), stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      if (typeof e.code !== "number") throw err;
      return { code: e.code, logs: parseLogs(e.stdout ?? ""), stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  }

  // Processes run one after another on one data directory (chDB: one process per directory).
  // Bounded by 120 s rather than the default 60: six processes, each a few HTTP round trips per statement.
  it("migrate, backfill and rebuild-rollups are idempotent and say what they did", { timeout: 120_000 }, async () => {
    const applies = [await cli("migrate"), await cli("migrate")];
    expect(applies.map((r) => r.code)).toEqual([0, 0]);
    const applied = applies.map((r) => r.logs.find((l) => l.op === "migrate" && Array.isArray(l.applied))?.applied as number[]);
    expect(applied[0]?.length).toBeGreaterThan(0);
    expect(applied[1]).toEqual([]);

    const file = eventsFile(dir, 200);
    const loads = [
      await cli("backfill", "--from", FROM, "--to", TO, "--file", file),
      await cli("backfill", "--from", FROM, "--to", TO, "--file", file),
    ];
    expect(loads.map((l) => l.code)).toEqual([0, 0]);
    const summaries = loads.map((l) => l.logs.find((x) => x.msg === "backfill finished"));
    expect(summaries.map((s) => [s?.accepted, s?.duplicates])).toEqual([
      [200, 0],
      [0, 200],
    ]);

    for (let i = 0; i < 2; i++) {
      const r = await cli("rebuild-rollups", "--from", FROM, "--to", TO);
      expect(r.code).toBe(0);
      const month = r.logs.find((l) => l.op === "rebuild_rollups" && l.raw_requests !== undefined);
      expect(month).toMatchObject({ raw_requests: 200, rollups: { llm_usage_daily: 200, llm_usage_hourly: 200 }, ok: true });
    }

    // The data, read from the engine behind the server.
    const q = (sql: string) => store.query(sql);
    expect(await q("SELECT count() AS n, uniqExact(event_id) AS ids FROM llm_usage")).toEqual([{ n: 200, ids: 200 }]);
    expect(await q("SELECT sum(requests) AS n FROM llm_usage_daily")).toEqual([{ n: 200 }]);
    expect(existsSync(join(dir, "must-not-exist"))).toBe(false);
    expect(server.requests).toBeGreaterThan(0);
  });

  it("migrate --check (the init step) exits 0 once migrated, 1 on an empty database; bad usage exits 2; schema --cluster prints DDL", async () => {
    const cases = [
      ["rebuild-rollups", "--from", "yesterday", "--to", TO],
      ["backfill", "--from", FROM, "--to", TO, "--file", join(dir, "missing.ndjson")],
    ];
    // Independent processes (no shared chDB directory): run them side by side.
    const [checked, empty, schema, ...bad] = await Promise.all([
      cli("migrate", "--check"),
      cli({ TOKENMETER_CLICKHOUSE_DATABASE: emptyDatabase }, "migrate", "--check"),
      cli("schema", "--cluster", "{cluster}"),
      ...cases.map((args) => cli(...args)),
    ]);
    expect([checked?.code, empty?.code]).toEqual([0, 1]);
    expect(empty?.logs.find((l) => l.msg === "migrations pending")?.pending).toEqual(loadMigrations().map((m) => m.name));
    expect(bad.map((r, i) => ({ args: cases[i], code: r.code, said: r.stderr.length > 0 }))).toEqual(
      cases.map((args) => ({ args, code: 2, said: true })),
    );
    expect(schema?.code).toBe(0);
    expect(schema?.stdout).toContain("CREATE TABLE IF NOT EXISTS llm_usage_local ON CLUSTER '{cluster}'");
    expect(schema?.stdout).toContain("ENGINE = Distributed('{cluster}', 'tokenmeter', 'llm_usage_local'");
  });
});

function parseLogs(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
