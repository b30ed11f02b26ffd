import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClickHouseHttpServer, startClickHouseHttpServer } from "../../../test/support/clickhouse-http-server.js";
import { TEST_DATA_DIR, testDatabaseName } from "../../../test/support/store.js";
import { ChdbStore } from "./chdb-store.js";
import { HttpStore } from "./http-store.js";
import { loadMigrations, type Migration, MigrationError, migrate, migrationChecksum } from "./migrate.js";
import type { Store } from "./store.js";

let server: ClickHouseHttpServer;

beforeAll(async () => {
  server = await startClickHouseHttpServer({ dataDir: TEST_DATA_DIR });
});

afterAll(async () => {
  await server.close();
});

const drivers: Array<[string, (database: string) => Promise<Store>]> = [
  ["ChdbStore (two stores, one process, one data dir)", (database) => ChdbStore.open({ dataDir: TEST_DATA_DIR, database })],
  ["HttpStore (two clients, one server)", (database) => HttpStore.open({ url: server.url, database })],
];

describe.each(drivers)("migrate with %s", (_name, open) => {
  it("is safe when two open and migrate one database at once, and idempotent on re-run", async () => {
    const migrations = loadMigrations();
    const versions = migrations.map((m) => m.version);
    // A few rounds on fresh databases: a race that loses only sometimes still shows up.
    for (let round = 0; round < 2; round++) {
      const database = testDatabaseName();
      const [a, b] = await Promise.all([open(database), open(database)]);
      try {
        const [appliedA, appliedB] = await Promise.all([migrate(a), migrate(b)]);
        // Every version applied by at least one of them, and every object exists.
        expect([...new Set([...appliedA, ...appliedB])].sort((x, y) => x - y)).toEqual(versions);
        expect(await tables(a)).toEqual(expect.arrayContaining(["llm_usage", "llm_usage_daily", "llm_usage_hourly", "schema_migrations"]));
        expect(await ledger(a)).toEqual(versions);
        // Re-running changes nothing.
        expect(await migrate(a)).toEqual([]);
        expect(await migrate(b)).toEqual([]);
        expect(await ledger(b)).toEqual(versions);
      } finally {
        await a.command(`DROP DATABASE IF EXISTS ${database}`);
        await a.close();
        await b.close();
      }
    }
  });
});

describe("migrate checksums", () => {
  const base: Migration[] = [
    { version: 1, name: "0001_a", statements: ["-- a table\nCREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = MergeTree ORDER BY x"] },
  ];

  it("records a checksum per migration and ignores comment and whitespace edits", async () => {
    const store = await ChdbStore.open({ dataDir: TEST_DATA_DIR, database: testDatabaseName() });
    try {
      expect(await migrate(store, base)).toEqual([1]);
      const rows = await store.query<{ name: string; checksum: string }>("SELECT name, checksum FROM schema_migrations");
      expect(rows).toEqual([{ name: "0001_a", checksum: migrationChecksum(base[0]!) }]);
      const reworded: Migration[] = [
        { ...base[0]!, statements: ["-- the a table, reworded\nCREATE TABLE IF NOT EXISTS a\n  (x UInt8)\nENGINE = MergeTree ORDER BY x"] },
      ];
      expect(await migrate(store, reworded)).toEqual([]);
    } finally {
      await store.command(`DROP DATABASE ${store.database}`);
      await store.close();
    }
  });

  it("refuses to run when an applied migration changed, before applying anything", async () => {
    const store = await ChdbStore.open({ dataDir: TEST_DATA_DIR, database: testDatabaseName() });
    try {
      await migrate(store, base);
      const edited: Migration[] = [
        { ...base[0]!, statements: ["CREATE TABLE IF NOT EXISTS a (x UInt16) ENGINE = MergeTree ORDER BY x"] },
        { version: 2, name: "0002_b", statements: ["CREATE TABLE IF NOT EXISTS b (y UInt8) ENGINE = MergeTree ORDER BY y"] },
      ];
      const err = await migrate(store, edited).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MigrationError);
      expect(err).toMatchObject({ changed: ["0001_a"] });
      expect(await tables(store)).not.toContain("b");
    } finally {
      await store.command(`DROP DATABASE ${store.database}`);
      await store.close();
    }
  });
});

describe("0005 backfills the model rollup on a store that already holds events", () => {
  const SUMS =
    "sum(requests) AS requests, sum(errors) AS errors, sum(unpriced_requests) AS unpriced, sum(input_tokens) AS input, sum(reasoning_tokens) AS reasoning, round(sum(cost_usd), 6) AS cost";
  const byKey = (table: string) =>
    `SELECT org_id, hour, provider, model, error_code, ${SUMS} FROM ${table} GROUP BY org_id, hour, provider, model, error_code ORDER BY org_id, hour, provider, model, error_code`;

  it("copies the hourly sums per (org, hour, provider, model, error_code), once even when the copy runs again", async () => {
    const store = await ChdbStore.open({ dataDir: TEST_DATA_DIR, database: testDatabaseName() });
    try {
      const all = loadMigrations();
      const before = all.filter((m) => m.version < 5);
      await migrate(store, before);
      // Two months of events with several projects and agents per model, as the 0003 rollup holds them.
      await store.command(
        `INSERT INTO llm_usage (event_id, event_time, org_id, project_id, agent_id, provider, model, input_tokens, reasoning_tokens,
           cost_usd, cost_source, status_code, error_code)
         SELECT generateUUIDv4(number), toDateTime64('2026-01-20 00:00:00', 3, 'UTC') + toIntervalSecond(number * 677 % (86400 * 30)),
           ['a', 'b'][number % 2 + 1], toString(number % 3), toString(number % 5), 'openai', ['m1', 'm2', 'm3'][number % 3 + 1],
           number % 1000, number % 7, (number % 64) / 1024, if(number % 11 = 0, 'unpriced', 'computed'),
           if(number % 10 = 0, 500, 200), if(number % 13 = 0, 'timeout', '')
         FROM numbers(20000)`,
      );
      const hourly = await store.query(byKey("llm_usage_hourly"));
      const upTo5 = all.filter((m) => m.version <= 5);
      expect(await migrate(store, upTo5)).toEqual([5]);
      expect(hourly.length).toBeGreaterThan(1000);
      expect(await store.query(byKey("llm_usage_model_hourly"))).toEqual(hourly);
      // A process that died after the copy but before the ledger row, or two migrating at once, copies again: dropped.
      const backfill = all.find((m) => m.version === 5)?.statements.find((s) => /^INSERT INTO/m.test(s)) ?? "";
      await store.command(backfill);
      await store.command(backfill);
      expect(await store.query(byKey("llm_usage_model_hourly"))).toEqual(hourly);
    } finally {
      await store.command(`DROP DATABASE ${store.database}`);
      await store.close();
    }
  });
});

async function tables(store: Store): Promise<string[]> {
  const rows = await store.query<{ name: string }>("SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name", {
    db: store.database,
  });
  return rows.map((r) => r.name);
}

/** Versions in the ledger, one entry per row: a duplicate row would show as a repeat. */
async function ledger(store: Store): Promise<number[]> {
  const rows = await store.query<{ version: number }>("SELECT version FROM schema_migrations FINAL ORDER BY version");
  return rows.map((r) => r.version);
}
