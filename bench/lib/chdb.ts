import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbStore, migrate } from "@tokenmeter/clickhouse";

/** chDB allows one data directory per process: each bench process gets its own. */
export function benchDataDir(scenario: string): string {
  return join(tmpdir(), `tokenmeter-bench-${scenario}-${process.pid}`);
}

/** A migrated store (llm_usage + rollup MVs) on database `database` in a fresh `dataDir`. */
export async function openBenchStore(dataDir: string, database: string): Promise<ChdbStore> {
  const store = await ChdbStore.open({ dataDir, database, readers: 1, timeoutMs: 600_000 });
  await migrate(store);
  return store;
}

/** Rows in a table of the store's database (reads after the insert returned). */
export async function countRows(store: ChdbStore, table = "llm_usage"): Promise<number> {
  const rows = await store.query<{ c: number }>(`SELECT count() AS c FROM ${table}`);
  return Number(rows[0]?.c ?? 0);
}

export function removeDataDir(dataDir: string): void {
  rmSync(dataDir, { recursive: true, force: true });
}
