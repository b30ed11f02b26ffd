import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChdbStore } from "./chdb-store.js";
import { migrateCluster, renderClusterLedger, renderClusterMigrations, renderClusterSql } from "./cluster.js";
import { loadMigrations, type Migration, migrate } from "./migrate.js";
import type { QueryParams, StatementOptions, Store } from "./store.js";

const one = (name: string, ...statements: string[]): Migration[] => [{ version: 1, name, statements }];

describe("renderClusterMigrations (exact SQL)", () => {
  it("renders a table as Replicated _local + Distributed, a view local to local, alters and drops on cluster", () => {
    const out = renderClusterMigrations(
      { cluster: "prod", database: "tm", dedupWindowSeconds: 60 },
      one(
        "0001_t",
        "-- why\nCREATE TABLE IF NOT EXISTS raw\n(\n    id UUID,\n    n UInt64,\n    INDEX i id TYPE bloom_filter GRANULARITY 1\n)\nENGINE = MergeTree\nORDER BY (id, n)\nSETTINGS non_replicated_deduplication_window = 5",
        "CREATE TABLE IF NOT EXISTS sums (id UUID, n UInt64) ENGINE = SummingMergeTree(n) ORDER BY id",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS sums_mv TO sums AS SELECT id, sum(n) AS n FROM raw LEFT JOIN dim USING id GROUP BY id",
        "ALTER TABLE raw ADD COLUMN IF NOT EXISTS m UInt8, DROP COLUMN IF EXISTS x",
        "ALTER TABLE raw MODIFY TTL toDate(n) + INTERVAL 1 DAY",
        "DROP VIEW IF EXISTS sums_mv",
        "INSERT INTO raw VALUES (generateUUIDv4(), 1)",
      ),
    );
    expect(out[0]?.statements).toEqual([
      "CREATE TABLE IF NOT EXISTS raw_local ON CLUSTER 'prod'\n(\n    id UUID,\n    n UInt64,\n    INDEX i id TYPE bloom_filter GRANULARITY 1\n)\n" +
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')\nORDER BY (id, n)\n" +
        "SETTINGS replicated_deduplication_window = 5, replicated_deduplication_window_seconds = 60",
      "CREATE TABLE IF NOT EXISTS raw ON CLUSTER 'prod'\n(\n    id UUID,\n    n UInt64\n)\nENGINE = Distributed('prod', 'tm', 'raw_local', cityHash64(id, n))",
      "CREATE TABLE IF NOT EXISTS sums_local ON CLUSTER 'prod'\n(id UUID, n UInt64)\n" +
        "ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', n) ORDER BY id",
      "CREATE TABLE IF NOT EXISTS sums ON CLUSTER 'prod'\n(\n    id UUID,\n    n UInt64\n)\nENGINE = Distributed('prod', 'tm', 'sums_local', cityHash64(id))",
      "CREATE MATERIALIZED VIEW IF NOT EXISTS sums_mv ON CLUSTER 'prod' TO sums_local\nAS SELECT id, sum(n) AS n FROM raw_local LEFT JOIN dim USING id GROUP BY id",
      "ALTER TABLE raw_local ON CLUSTER 'prod' ADD COLUMN IF NOT EXISTS m UInt8, DROP COLUMN IF EXISTS x",
      "ALTER TABLE raw ON CLUSTER 'prod' ADD COLUMN IF NOT EXISTS m UInt8, DROP COLUMN IF EXISTS x",
      "ALTER TABLE raw_local ON CLUSTER 'prod' MODIFY TTL toDate(n) + INTERVAL 1 DAY",
      "DROP VIEW IF EXISTS sums_mv ON CLUSTER 'prod'",
      "INSERT INTO raw VALUES (generateUUIDv4(), 1)",
    ]);
  });

  it("refuses what it cannot render instead of passing it through", () => {
    expect(() => renderClusterMigrations({}, one("0009_x", "CREATE TABLE q (a UInt8) ENGINE = Memory"))).toThrow(
      /0009_x.*MergeTree-family/,
    );
    expect(() => renderClusterMigrations({}, one("0009_x", "CREATE MATERIALIZED VIEW v ENGINE = Memory AS SELECT 1"))).toThrow(
      /TO <table>/,
    );
    expect(() => renderClusterMigrations({}, one("0009_x", "RENAME TABLE a TO b"))).toThrow(/cannot render/);
    expect(() => renderClusterMigrations({ cluster: "a'; DROP" })).toThrow(/invalid cluster/);
  });
});

describe("cluster schema rendered from clickhouse/schema", () => {
  const single = loadMigrations();
  const cluster = renderClusterMigrations({ cluster: "{cluster}", database: "tokenmeter" });
  const statements = cluster.flatMap((m) => m.statements);
  const tables = single.flatMap((m) => m.statements.flatMap((s) => /CREATE TABLE IF NOT EXISTS (\w+)/.exec(s)?.[1] ?? []));

  it("has the same migrations and runs every statement ON CLUSTER", () => {
    expect(cluster.map((m) => m.name)).toEqual(single.map((m) => m.name));
    expect(tables).toEqual(expect.arrayContaining(["llm_usage", "llm_usage_daily", "llm_usage_hourly", "llm_usage_model_hourly"]));
    for (const s of statements) if (!s.startsWith("INSERT")) expect(s).toContain("ON CLUSTER '{cluster}'");
  });

  it("gives every table a Replicated _local with the same engine family and dedup window, and a Distributed over it", () => {
    for (const t of tables) {
      const src = single.flatMap((m) => m.statements).find((s) => s.includes(`CREATE TABLE IF NOT EXISTS ${t}\n`)) ?? "";
      const family = /ENGINE = (\w*)MergeTree/.exec(src)?.[1];
      const local = statements.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS ${t}_local `)) ?? "";
      expect(local).toContain(`ENGINE = Replicated${family}MergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}'`);
      expect(local).not.toContain("non_replicated_deduplication_window");
      if (src.includes("non_replicated_deduplication_window")) expect(local).toMatch(/replicated_deduplication_window = \d+/);
      const dist = statements.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS ${t} `)) ?? "";
      expect(dist).toMatch(new RegExp(`ENGINE = Distributed\\('\\{cluster\\}', 'tokenmeter', '${t}_local', cityHash64\\(`));
    }
  });

  it("points materialized views from the local raw table to the local rollups", () => {
    const views = statements.filter((s) => s.startsWith("CREATE MATERIALIZED VIEW"));
    expect(views.length).toBeGreaterThanOrEqual(3);
    for (const v of views) {
      expect(v).toMatch(/ TO \w+_local\n/);
      expect(v).toMatch(/FROM llm_usage_local\b/);
    }
  });

  it("sends a migration's backfill through the Distributed tables unchanged", () => {
    const backfill = single.flatMap((m) => m.statements).find((s) => /^INSERT INTO llm_usage_model_hourly\b/m.test(s)) ?? "";
    expect(backfill).toContain("FROM llm_usage_hourly\n");
    const rendered = statements.find((s) => s.startsWith("INSERT INTO llm_usage_model_hourly"));
    expect(rendered).toBe(backfill.replace(/^--.*\n/gm, "").trim());
  });

  it("prints one script with a header per migration", () => {
    const sql = renderClusterSql();
    for (const m of single) expect(sql).toContain(`-- ${m.name}\n`);
  });

  describe("on the real engine", () => {
    let store: ChdbStore;
    let reference: ChdbStore;
    const dataDir = join(tmpdir(), `tokenmeter-cluster-test-${process.pid}`);
    beforeAll(async () => {
      const id = randomUUID().replace(/-/g, "").slice(0, 12);
      store = await ChdbStore.open({ dataDir, database: `c_${id}` });
      reference = await ChdbStore.open({ dataDir, database: `s_${id}` });
      await migrate(reference);
    });
    afterAll(async () => {
      for (const s of [store, reference]) {
        await s?.command(`DROP DATABASE IF EXISTS ${s.database}`);
        await s?.close();
      }
      rmSync(dataDir, { recursive: true, force: true });
    });

    it("parses every rendered statement", async () => {
      for (const s of statements) {
        const [row] = await store.query<{ q: string }>("SELECT formatQuery({sql:String}) AS q", { sql: s });
        expect(row?.q.length).toBeGreaterThan(0);
      }
    });

    // No Keeper or cluster here: strip what needs them and run the rest, which
    // proves the column lists and the local→local view wiring on the engine.
    it("keeps the single-node columns in _local and Distributed tables, and the views feed the local rollups", async () => {
      for (const s of statements) await store.command(withoutCluster(s));
      for (const t of tables) {
        const expected = await columnsOf(reference, t);
        expect(await columnsOf(store, `${t}_local`)).toEqual(expected);
        expect(await columnsOf(store, t)).toEqual(expected);
      }
      await store.insert("llm_usage_local", [
        {
          event_id: randomUUID(),
          event_time: "2026-01-05 10:00:00.000",
          org_id: "o",
          provider: "p",
          model: "m",
          input_tokens: 3,
          status_code: 200,
        },
      ]);
      const [daily] = await store.query<{ n: number }>("SELECT sum(input_tokens) AS n FROM llm_usage_daily_local");
      const [hourly] = await store.query<{ n: number }>("SELECT sum(input_tokens) AS n FROM llm_usage_hourly_local");
      const [model] = await store.query<{ n: number }>("SELECT sum(input_tokens) AS n FROM llm_usage_model_hourly_local");
      expect([daily?.n, hourly?.n, model?.n]).toEqual([3, 3, 3]);
    });

    it("migrateCluster records source checksums, so a service's single-node migrate() afterwards changes nothing", async () => {
      const target = await ChdbStore.open({ dataDir, database: `m_${randomUUID().replace(/-/g, "").slice(0, 12)}` });
      try {
        const cluster = new KeeperlessStore(target);
        expect(await migrateCluster(cluster, { cluster: "{cluster}" })).toEqual(loadMigrations().map((m) => m.version));
        expect(await migrateCluster(cluster, { cluster: "{cluster}" })).toEqual([]);
        expect(await migrate(target)).toEqual([]);
        expect(await columnsOf(target, "schema_migrations_local")).toEqual(await columnsOf(reference, "schema_migrations"));
        expect(cluster.ran.some((s) => s.includes("CREATE TABLE IF NOT EXISTS llm_usage_local ON CLUSTER"))).toBe(true);
      } finally {
        await target.command(`DROP DATABASE IF EXISTS ${target.database}`);
        await target.close();
      }
    });

    it("renders the ledger as a replicated _local and a Distributed table", () => {
      const [local, dist] = renderClusterLedger({ cluster: "c", database: "d" });
      expect(local).toContain(
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', applied_at)",
      );
      expect(dist).toContain("ENGINE = Distributed('c', 'd', 'schema_migrations_local', cityHash64(version))");
    });
  });
});

/**
 * The real engine behind a cluster's DDL, minus what needs Keeper and a
 * cluster (see withoutCluster); records the statements it was sent.
 */
class KeeperlessStore implements Store {
  readonly ran: string[] = [];
  constructor(private readonly inner: Store) {}
  get database() {
    return this.inner.database;
  }
  query<T>(sql: string, params?: QueryParams, opts?: StatementOptions): Promise<T[]> {
    return this.inner.query<T>(sql, params, opts);
  }
  insert(table: string, rows: readonly object[] | Buffer | string, opts?: StatementOptions) {
    return this.inner.insert(table, rows, opts);
  }
  command(sql: string, params?: QueryParams, opts?: StatementOptions) {
    this.ran.push(sql);
    return this.inner.command(withoutCluster(sql), params, opts);
  }
  close() {
    return this.inner.close();
  }
}

function withoutCluster(sql: string): string {
  return sql
    .replace(/ ON CLUSTER '[^']*'/g, "")
    .replace(/Replicated(\w*)MergeTree\('[^']*', '[^']*'(, )?/, "$1MergeTree(")
    .replace(
      /replicated_deduplication_window = (\d+), replicated_deduplication_window_seconds = \d+/,
      "non_replicated_deduplication_window = $1",
    )
    .replace(/ENGINE = Distributed\(.*\)$/, "ENGINE = Memory");
}

async function columnsOf(store: ChdbStore, table: string) {
  return store.query<{ name: string; type: string; default_expression: string }>(
    "SELECT name, type, default_expression FROM system.columns WHERE database = {db:String} AND table = {t:String} ORDER BY position",
    { db: store.database, t: table },
  );
}
