import { pino } from "pino";
import { startTokenmeter, type Tokenmeter } from "../../apps/tokenmeter/src/app.js";
import { loadConfig } from "../../apps/tokenmeter/src/config.js";
import { TEST_DATA_DIR, testDatabaseName } from "./store.js";

/** The all-in-one (embedded: chDB + batching writer), bundled prices, no demo data: what a user runs. */
export async function startTestTokenmeter(extra: Record<string, string> = {}): Promise<Tokenmeter> {
  const parsed = loadConfig({
    TOKENMETER_PORT: "0",
    TOKENMETER_DATA_DIR: TEST_DATA_DIR,
    TOKENMETER_CLICKHOUSE_DATABASE: testDatabaseName(),
    TOKENMETER_JWT_SECRET: "o".repeat(40),
    TOKENMETER_DEMO: "0",
    TOKENMETER_PRICING_SOURCE: "bundled",
    TOKENMETER_BATCH_MAX_DELAY_MS: "20",
    ...extra,
  });
  if (!parsed.ok) throw new Error(parsed.errors.join("; "));
  return startTokenmeter(parsed.config, { logger: pino({ level: "warn" }) });
}

let queryCount = 0;

/**
 * GET an analytics endpoint for [start, end). Each call moves `end` by a
 * millisecond-free minute offset, so no answer comes from the result cache
 * of an earlier call.
 */
export async function analytics<T>(
  tm: Tokenmeter,
  token: string,
  path: string,
  startMs: number,
  params: Record<string, string> = {},
): Promise<T> {
  queryCount++;
  const end = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + queryCount * 60_000).toISOString();
  const qs = new URLSearchParams({ start: new Date(startMs).toISOString(), end, granularity: "day", ...params });
  const res = await fetch(`${tm.url}${path}?${qs}`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
