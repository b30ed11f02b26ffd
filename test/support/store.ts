import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbStore, migrate, type Store } from "@tokenmeter/clickhouse";

/**
 * chDB allows one data directory per process; every test file runs in its own
 * fork, so one directory per process and one fresh database per call keeps
 * tests apart. The chDB-backed HTTP test server (clickhouse-http-server.ts)
 * opens the same directory.
 */
export const TEST_DATA_DIR = join(tmpdir(), `tokenmeter-test-${process.pid}`);

/** A database name no other test uses. */
export function testDatabaseName(): string {
  return `t_${randomUUID().replace(/-/g, "").slice(0, 16)}`;
}

/** A migrated store on a fresh database of the real embedded engine. */
export async function openTestStore(opts: { migrated?: boolean } = {}): Promise<ChdbStore> {
  const store = await ChdbStore.open({ dataDir: TEST_DATA_DIR, database: testDatabaseName() });
  if (opts.migrated !== false) await migrate(store);
  return store;
}

export async function dropTestStore(store: Store): Promise<void> {
  await store.command(`DROP DATABASE IF EXISTS ${store.database}`);
  await store.close();
}
