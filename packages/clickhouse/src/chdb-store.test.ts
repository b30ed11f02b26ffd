import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { TEST_DATA_DIR, testDatabaseName } from "../../../test/support/store.js";
import { ChdbStore } from "./chdb-store.js";
import { describeStoreConformance } from "./conformance.js";
import { IDS_TABLE, StoreError } from "./store.js";

describeStoreConformance("ChdbStore (embedded engine)", () => ChdbStore.open({ dataDir: TEST_DATA_DIR, database: testDatabaseName() }));

describe("ChdbStore.queryWithIds", () => {
  it("reads the ids as a table, each call its own ids even when called concurrently", async () => {
    const store = await ChdbStore.open({ dataDir: TEST_DATA_DIR, database: testDatabaseName() });
    try {
      const stored = Array.from({ length: 1000 }, () => randomUUID());
      await store.command("CREATE TABLE ev (id UUID, n UInt32) ENGINE = MergeTree ORDER BY n");
      await store.insert(
        "ev",
        stored.map((id, n) => ({ id, n })),
      );
      const sql = `SELECT n FROM ev WHERE id IN ${IDS_TABLE} AND n >= {min:UInt32} ORDER BY n`;
      const sets = [
        [stored[1]!, stored[2]!, stored[3]!, randomUUID()],
        [stored[10]!.toUpperCase(), stored[20]!],
        stored.filter((_, i) => i % 3 === 0),
        [],
      ];
      const answers = await Promise.all(sets.map((ids) => store.queryWithIds<{ n: number }>(sql, { min: 2 }, ids)));
      expect(answers.map((rows) => rows.map((r) => r.n))).toEqual([
        [2, 3],
        [10, 20],
        Array.from({ length: 1000 }, (_, i) => i).filter((n) => n % 3 === 0 && n >= 2),
        [],
      ]);
      // 200k ids, the size of a Kafka batch's lookup (past where an Array(UUID) parameter falls off a cliff).
      const many = [...Array.from({ length: 200_000 }, () => randomUUID()), ...stored.slice(0, 7)];
      const [count] = await store.queryWithIds<{ c: number }>(`SELECT count() AS c FROM ev WHERE id IN ${IDS_TABLE}`, {}, many);
      expect(count).toEqual({ c: 7 });
    } finally {
      await store.command(`DROP DATABASE ${store.database}`);
      await store.close();
    }
  });

  it("refuses an id that is not a UUID, and keeps answering", async () => {
    const store = await ChdbStore.open({ dataDir: TEST_DATA_DIR, database: testDatabaseName() });
    try {
      const id = randomUUID();
      const bad = store.queryWithIds(`SELECT count() AS c FROM ${IDS_TABLE}`, {}, [id, `${id}\n${randomUUID()}`]);
      await expect(bad).rejects.toBeInstanceOf(StoreError);
      await expect(bad).rejects.toMatchObject({ code: "bad_request", retryable: false });
      expect(await store.queryWithIds(`SELECT count() AS c FROM ${IDS_TABLE}`, {}, [id])).toEqual([{ c: 1 }]);
    } finally {
      await store.command(`DROP DATABASE ${store.database}`);
      await store.close();
    }
  });
});
