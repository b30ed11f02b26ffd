import { z } from "zod";

const optionalUrl = z.url({ message: "must be a URL" }).optional();

/**
 * Settings of the standalone query service, read from the environment once in
 * main.ts. Unset TOKENMETER_CLICKHOUSE_URL means chDB in TOKENMETER_DATA_DIR;
 * unset TOKENMETER_REDIS_URL means the in-memory LRU result cache.
 */
export const QueryConfig = z.object({
  TOKENMETER_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  TOKENMETER_HOST: z.string().default("127.0.0.1"),
  TOKENMETER_DATA_DIR: z.string().default("./data"),
  TOKENMETER_JWT_SECRET: z.string().min(32, "must be at least 32 characters"),
  TOKENMETER_API_KEYS: z
    .string()
    .regex(/^([0-9a-f]{64}:[^,:]+)(,[0-9a-f]{64}:[^,:]+)*$/, "must be sha256hex:org_id pairs separated by commas")
    .optional(),
  TOKENMETER_CLICKHOUSE_URL: optionalUrl,
  TOKENMETER_CLICKHOUSE_USER: z.string().default("default"),
  TOKENMETER_CLICKHOUSE_PASSWORD: z.string().default(""),
  TOKENMETER_CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an identifier")
    .default("tokenmeter"),
  TOKENMETER_REDIS_URL: optionalUrl,
  TOKENMETER_REDIS_KEY_PREFIX: z.string().default("tokenmeter:q:"),
  TOKENMETER_CACHE_MAX_ENTRIES: z.coerce.number().int().positive().default(5_000),
  TOKENMETER_LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
});
export type QueryConfig = z.output<typeof QueryConfig>;

export type QueryConfigResult = { ok: true; config: QueryConfig } | { ok: false; errors: string[] };

/** Parses the environment, reporting every problem at once. Empty values count as unset. */
export function loadQueryConfig(env: Record<string, string | undefined>): QueryConfigResult {
  const relevant = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith("TOKENMETER_") && v !== ""));
  const parsed = QueryConfig.safeParse(relevant);
  if (parsed.success) return { ok: true, config: parsed.data };
  return { ok: false, errors: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`) };
}

/** `sha256hex:org,sha256hex:org` → hash → org. */
export function parseApiKeys(value: string | undefined): Record<string, string> {
  if (!value) return {};
  return Object.fromEntries(value.split(",").map((pair) => pair.split(":") as [string, string]));
}
