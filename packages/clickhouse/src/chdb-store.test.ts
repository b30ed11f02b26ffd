import { describe, expect, it } from "vitest";
import { TEST_DATA_DIR, testDatabaseName } from "../../../test/support/store.js";
import { ChdbStore } from "./chdb-store.js";
import { describeStoreConformance } from "./conformance.js";
import { KEYS_TABLE, StoreError } from "./store.js";

describeStoreConformance("ChdbStore (embedded engine)", () => ChdbStore.open({ dataDir: TEST_DATA_DIR, database: testDatabaseName() }));

describe("ChdbStore.queryWithKeys", () => {
  it("reads the keys as a table, each call its own keys even when called concurrently", async () => {
    const store = await ChdbStore.open({ dataDir: TEST_DATA_DIR, database: testDatabaseName() });
    try {
      await store.command("CREATE TABLE nums (n UInt64) ENGINE = MergeTree ORDER BY n");
      await store.command("INSERT INTO nums SELECT number FROM numbers(1000)");
      const sql = `SELECT n FROM nums WHERE n IN ${KEYS_TABLE} AND n >= {min:UInt64} ORDER BY n`;
      const sets = [["1", "2", "3", "5000"], ["10", "20"], Array.from({ length: 300 }, (_, i) => String(i * 3)), []];
      const answers = await Promise.all(sets.map((keys) => store.queryWithKeys<{ n: number }>(sql, { min: 2 }, keys)));
      expect(answers.map((rows) => rows.map((r) => r.n))).toEqual([
        [2, 3],
        [10, 20],
        Array.from({ length: 300 }, (_, i) => i * 3).filter((n) => n >= 2),
        [],
      ]);
      // 200k keys, the size of a Kafka batch's lookup.
      const many = Array.from({ length: 200_000 }, (_, i) => String(i * 7));
      const [count] = await store.queryWithKeys<{ c: number }>(`SELECT count() AS c FROM nums WHERE n IN ${KEYS_TABLE}`, {}, many);
      expect(count).toEqual({ c: Math.floor(999 / 7) + 1 });
    } finally {
      await store.command(`DROP DATABASE ${store.database}`);
      await store.close();
    }
  });

  it("refuses a key that is not a UInt64, and keeps answering", async () => {
    const store = await ChdbStore.open({ dataDir: TEST_DATA_DIR, database: testDatabaseName() });
    try {
      const bad = store.queryWithKeys(`SELECT count() AS c FROM ${KEYS_TABLE}`, {}, ["1", "2\n3"]);
      await expect(bad).rejects.toBeInstanceOf(StoreError);
      await expect(bad).rejects.toMatchObject({ code: "bad_request", retryable: false });
      expect(await store.queryWithKeys(`SELECT count() AS c FROM ${KEYS_TABLE}`, {}, ["7"])).toEqual([{ c: 1 }]);
    } finally {
      await store.command(`DROP DATABASE ${store.database}`);
      await store.close();
    }
  });
});
