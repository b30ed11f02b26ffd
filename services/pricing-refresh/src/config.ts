import { StoreEnv } from "@tokenmeter/clickhouse";
import { type ConfigResult, LogLevel, parseEnv } from "@tokenmeter/core";
import { AlertsConfig } from "@tokenmeter/query";
import { CronExpressionParser } from "cron-parser";
import { z } from "zod";
import { LITELLM_PRICES_URL } from "./sources/index.js";

const cron = z.string().refine((v) => {
  try {
    CronExpressionParser.parse(v, { tz: "UTC" });
    return true;
  } catch {
    return false;
  }
}, "must be a cron pattern, e.g. '17 4 * * *'");

/**
 * Pricing settings. Shared by the standalone worker (main.ts) and the
 * all-in-one process, which parses the same variables.
 */
export const PricingConfig = z.object({
  /** http(s) URL, a file path, or "bundled". */
  TOKENMETER_PRICING_SOURCE: z.string().min(1).default(LITELLM_PRICES_URL),
  /** When the refresh runs (UTC). Default daily at 04:17, off the top of the hour. */
  TOKENMETER_PRICING_CRON: cron.default("17 4 * * *"),
  TOKENMETER_PRICING_FETCH_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
  TOKENMETER_PRICING_FETCH_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  /** Tries per refresh job, the first included (BullMQ attempts). */
  TOKENMETER_PRICING_JOB_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(5),
  /** First retry delay of a failed job; doubles each retry. */
  TOKENMETER_PRICING_BACKOFF_MS: z.coerce.number().int().min(10).max(86_400_000).default(60_000),
  /** A document pricing fewer models is rejected as truncated. */
  TOKENMETER_PRICING_MIN_MODELS: z.coerce.number().int().min(1).default(1),
  /** A document missing more than this share of its source's known models is rejected as partial. */
  TOKENMETER_PRICING_MAX_MISSING_FRACTION: z.coerce.number().min(0).max(1).default(0.5),
  TOKENMETER_PRICING_QUEUE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, _ . - only")
    .default("tokenmeter-pricing"),
  /** Prefix of the Redis pub/sub channel "<prefix>:pricing-updated". */
  TOKENMETER_REDIS_PREFIX: z.string().default("tokenmeter"),
});
export type PricingConfig = z.output<typeof PricingConfig>;

/** The standalone worker also needs storage and Redis, and runs the alert jobs. */
export const PricingWorkerConfig = PricingConfig.extend({
  ...AlertsConfig.shape,
  TOKENMETER_REDIS_URL: z.url({ message: "must be a URL" }).optional(),
  ...StoreEnv.shape,
  TOKENMETER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  TOKENMETER_LOG_LEVEL: LogLevel,
});
export type PricingWorkerConfig = z.output<typeof PricingWorkerConfig>;

/** Parses the environment with a schema, reporting every problem at once. */
export function loadConfig<T extends z.ZodType>(schema: T, env: Record<string, string | undefined>): ConfigResult<z.output<T>> {
  return parseEnv(schema, env);
}

/** Reads process.env: the one place this service does. */
export function readEnv(): Record<string, string | undefined> {
  return process.env;
}
