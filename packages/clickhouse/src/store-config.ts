import { z } from "zod";
import type { StoreConfig } from "./factory.js";

/**
 * The storage settings every process reads (services, all-in-one, jobs).
 * Unset TOKENMETER_CLICKHOUSE_URL means the embedded engine in TOKENMETER_DATA_DIR.
 */
export const StoreEnv = z.object({
  TOKENMETER_CLICKHOUSE_URL: z.url({ message: "must be a URL" }).optional(),
  TOKENMETER_CLICKHOUSE_USER: z.string().default("default"),
  TOKENMETER_CLICKHOUSE_PASSWORD: z.string().default(""),
  TOKENMETER_CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an identifier")
    .default("tokenmeter"),
  TOKENMETER_DATA_DIR: z.string().default("./data"),
});
export type StoreEnv = z.output<typeof StoreEnv>;

/** The `createStore` options those settings stand for. */
export function storeConfigFromEnv(c: StoreEnv): StoreConfig {
  return {
    clickhouseUrl: c.TOKENMETER_CLICKHOUSE_URL,
    dataDir: c.TOKENMETER_DATA_DIR,
    database: c.TOKENMETER_CLICKHOUSE_DATABASE,
    username: c.TOKENMETER_CLICKHOUSE_USER,
    password: c.TOKENMETER_CLICKHOUSE_PASSWORD,
  };
}
