import { ChdbStore } from "./chdb-store.js";
import { HttpStore } from "./http-store.js";
import type { Store } from "./store.js";

export interface StoreConfig {
  /** A ClickHouse server's HTTP URL. Unset: the embedded engine on `dataDir`. */
  clickhouseUrl?: string;
  /** The embedded engine's data directory (ignored with a URL). */
  dataDir: string;
  /** Database for unqualified names, created if missing. Default "tokenmeter". */
  database?: string;
  /** Server credentials (ignored without a URL). */
  username?: string;
  password?: string;
  /** Per-statement timeout in ms. Default 30 000. */
  timeoutMs?: number;
  /** Reader connections of the embedded engine. Default 2. */
  readers?: number;
}

/**
 * Picks the driver: a server when a URL is configured (distributed mode),
 * else the embedded engine (one process, `pnpm start`). Both implement Store
 * and pass the same conformance suite, so callers never branch on it.
 */
export async function createStore(config: StoreConfig): Promise<Store> {
  if (config.clickhouseUrl) {
    return HttpStore.open({
      url: config.clickhouseUrl,
      username: config.username,
      password: config.password,
      database: config.database,
      timeoutMs: config.timeoutMs,
    });
  }
  return ChdbStore.open({ dataDir: config.dataDir, database: config.database, timeoutMs: config.timeoutMs, readers: config.readers });
}
