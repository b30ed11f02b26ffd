import { StoreEnv } from "@tokenmeter/clickhouse";
import { type ConfigResult, LogLevel, parseEnv } from "@tokenmeter/core";
import { ApiKeys, JwtSecret } from "@tokenmeter/http";
import { z } from "zod";

const optionalUrl = z.url({ message: "must be a URL" }).optional();
const bool = z
  .enum(["0", "1", "true", "false", "yes", "no"], { message: "must be 0/1/true/false" })
  .transform((v) => v === "1" || v === "true" || v === "yes");

/**
 * Budgets and alerts: the check's refresh, webhook delivery, the evaluation
 * schedule. Shared by the query service, the worker and the all-in-one.
 */
export const AlertsConfig = z.object({
  /** How often the pre-call check's snapshot re-reads spent (its lag behind ingestion). */
  TOKENMETER_BUDGET_REFRESH_MS: z.coerce.number().int().min(100).max(60_000).default(1_000),
  /** Allow webhooks to loopback/private addresses (a cluster's own services are private: off by default). */
  TOKENMETER_WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  TOKENMETER_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /** First retry delay of a failed delivery; doubles after each failure (DESIGN.md: at most 60 s). */
  TOKENMETER_WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).max(60_000).default(60_000),
  TOKENMETER_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(8).default(8),
  TOKENMETER_ALERT_EVAL_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  TOKENMETER_ALERT_QUEUE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, _ . - only")
    .default("tokenmeter-alerts"),
});
export type AlertsConfig = z.output<typeof AlertsConfig>;

/** The webhook delivery policy a config describes. */
export function deliveryPolicy(c: AlertsConfig) {
  return {
    allowPrivate: c.TOKENMETER_WEBHOOK_ALLOW_PRIVATE,
    timeoutMs: c.TOKENMETER_WEBHOOK_TIMEOUT_MS,
    retryBaseMs: c.TOKENMETER_WEBHOOK_RETRY_BASE_MS,
    maxAttempts: c.TOKENMETER_WEBHOOK_MAX_ATTEMPTS,
  };
}

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
  ...AlertsConfig.shape,
  TOKENMETER_ROLLUP_TAG_KEYS: RollupTagKeys,
});
export type QueryConfig = z.output<typeof QueryConfig>;

export type QueryConfigResult = ConfigResult<QueryConfig>;

/** Parses the environment, reporting every problem at once. Empty values count as unset. */
export function loadQueryConfig(env: Record<string, string | undefined>): QueryConfigResult {
  return parseEnv(QueryConfig, env);
}
