import { describe, expect, it } from "vitest";
import { TEST_DATA_DIR, testDatabaseName } from "../../../test/support/store.js";
import { ChdbStore } from "./chdb-store.js";
import { loadMigrations, migrate } from "./migrate.js";

// 0006/0007 on a store that already holds events written under the v1 schema
// (Float64 money, rollups without operation): after migrating, every rollup
// answers per operation with the raw figures, and money is exact Decimal.
describe("0006/0007 migrate a store with data from before", () => {
  const perOp = (table: string) =>
    `SELECT operation, sum(requests) AS requests, toString(sum(cost_usd)) AS cost FROM ${table} GROUP BY operation ORDER BY operation`;

  it("rebuilds every rollup per operation from raw, and converts costs to Decimal(38, 12) without drift", async () => {
    const store = await ChdbStore.open({ dataDir: TEST_DATA_DIR, database: testDatabaseName() });
    try {
      const all = loadMigrations();
      await migrate(
        store,
        all.filter((m) => m.version <= 5),
      );
      // Two months of v1 rows; costs are decimal fractions a Float64 cannot hold exactly (0.1, 0.3, 0.0001...).
      await store.command(
        `INSERT INTO llm_usage (event_id, event_time, org_id, project_id, provider, model, operation, input_tokens, cost_usd, cost_source, status_code)
         SELECT generateUUIDv4(number), toDateTime64('2026-01-20 00:00:00', 3, 'UTC') + toIntervalSecond(number * 677 % (86400 * 30)),
           'a', 'p', 'openai', 'm', ['chat', 'embedding', 'image'][number % 3 + 1], number % 1000,
           [0.1, 0.3, 0.0001, 1.7][number % 4 + 1], 'computed', 200
         FROM numbers(12000)`,
      );
      expect(await migrate(store, all)).toEqual(all.filter((m) => m.version > 5).map((m) => m.version));

      const [types] = await store.query<{ raw: string; daily: string; hourly: string }>(
        "SELECT toTypeName(any(cost_usd)) AS raw, (SELECT toTypeName(any(cost_usd)) FROM llm_usage_daily) AS daily, (SELECT toTypeName(any(cost_usd)) FROM llm_usage_hourly) AS hourly FROM llm_usage",
      );
      expect(types).toEqual({ raw: "Decimal(38, 12)", daily: "Decimal(38, 12)", hourly: "SimpleAggregateFunction(sum, Decimal(38, 12))" });
      // Independent expectation: each operation gets 4,000 rows, 1,000 of each cost.
      const want = ["chat", "embedding", "image"].map((operation) => ({ operation, requests: 4000, cost: "2100.1" }));
      const raw = await store.query(
        "SELECT operation, count() AS requests, toString(sum(cost_usd)) AS cost FROM llm_usage GROUP BY operation ORDER BY operation",
      );
      expect(raw).toEqual(want);
      for (const t of ["llm_usage_daily", "llm_usage_hourly", "llm_usage_model_hourly"]) expect(await store.query(perOp(t))).toEqual(want);
      // New events flow into the rebuilt rollups with their operation.
      await store.command(
        "INSERT INTO llm_usage (event_id, event_time, org_id, provider, model, operation, cost_usd, cost_source, status_code) VALUES (generateUUIDv4(), '2026-02-01 00:00:00', 'a', 'openai', 'm', 'rerank', 0.000000000001, 'computed', 200)",
      );
      for (const t of ["llm_usage_daily", "llm_usage_hourly", "llm_usage_model_hourly"]) {
        expect(await store.query(`${perOp(t)} LIMIT 1 OFFSET 3`)).toEqual([{ operation: "rerank", requests: 1, cost: "0.000000000001" }]);
      }
    } finally {
      await store.command(`DROP DATABASE ${store.database}`);
      await store.close();
    }
  });
});
