import { StoreEnv } from "@tokenmeter/clickhouse";
import { type ConfigResult, LogLevel, parseEnv } from "@tokenmeter/core";
import { ApiKeys, JwtSecret } from "@tokenmeter/http";
import { z } from "zod";

const optionalUrl = z.url({ message: "must be a URL" }).optional();

/**
 * TOKENMETER_ROLLUP_TAG_KEYS: comma-separated tag keys answered from the tag
 * rollup (issue 16), e.g. "team,feature"; empty = none. Keys follow the event
 * schema's rule (1-64 of A-Z a-z 0-9 _ . : -); at most 10 (each multiplies the
 * tag rollup's rows).
 */
export const RollupTagKeys = z
  .string()
  .default("")
  .transform((s) =>
    [
      ...new Set(
        s
          .split(",")
          .map((k) => k.trim())
          .filter(Boolean),
      ),
    ].sort(),
  )
  .pipe(
    z.array(z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, "tag keys are 1-64 characters of A-Z a-z 0-9 _ . : -")).max(10, "at most 10 keys"),
  );

/**
 * Settings of the standalone query service, read from the environment once in
 * main.ts. Unset TOKENMETER_CLICKHOUSE_URL means chDB in TOKENMETER_DATA_DIR;
 * unset TOKENMETER_REDIS_URL means the in-memory LRU result cache.
 */
export const QueryConfig = z.object({
  TOKENMETER_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  TOKENMETER_HOST: z.string().default("127.0.0.1"),
  TOKENMETER_JWT_SECRET: JwtSecret,
  TOKENMETER_API_KEYS: ApiKeys,
  ...StoreEnv.shape,
  TOKENMETER_REDIS_URL: optionalUrl,
  TOKENMETER_REDIS_KEY_PREFIX: z.string().default("tokenmeter:q:"),
  TOKENMETER_CACHE_MAX_ENTRIES: z.coerce.number().int().positive().default(5_000),
  TOKENMETER_LOG_LEVEL: LogLevel,
  TOKENMETER_ROLLUP_TAG_KEYS: RollupTagKeys,
});
export type QueryConfig = z.output<typeof QueryConfig>;

export type QueryConfigResult = ConfigResult<QueryConfig>;

/** Parses the environment, reporting every problem at once. Empty values count as unset. */
export function loadQueryConfig(env: Record<string, string | undefined>): QueryConfigResult {
  return parseEnv(QueryConfig, env);
}
