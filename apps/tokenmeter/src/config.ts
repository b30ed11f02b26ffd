import { StoreEnv } from "@tokenmeter/clickhouse";
import { type ConfigResult, LogLevel, parseEnv } from "@tokenmeter/core";
import { ApiKeys, JwtSecret } from "@tokenmeter/http";
import { IngestConfig, KafkaIngestConfig } from "@tokenmeter/ingest";
import { PricingConfig } from "@tokenmeter/pricing-refresh";
import { AlertsConfig, RollupTagKeys } from "@tokenmeter/query";
import { z } from "zod";

const bool = z
  .enum(["0", "1", "true", "false", "yes", "no"], { message: "must be 0/1/true/false" })
  .transform((v) => v === "1" || v === "true" || v === "yes");
const optionalUrl = z.url({ message: "must be a URL" }).optional();

/**
 * Every setting of the all-in-one process, read from the environment once in
 * main.ts. Unset external parts (ClickHouse, Kafka, Redis) mean the embedded
 * default (chDB, direct writes, in-memory cache).
 */
export const AppConfig = z.object({
  TOKENMETER_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  TOKENMETER_HOST: z.string().default("127.0.0.1"),
  TOKENMETER_JWT_SECRET: JwtSecret.optional(),
  TOKENMETER_API_KEYS: ApiKeys,
  TOKENMETER_DEMO: bool.default(true),
  TOKENMETER_DEMO_EVENTS: z.coerce.number().int().min(0).max(10_000_000).default(250_000),
  ...StoreEnv.shape,
  TOKENMETER_REDIS_URL: optionalUrl,
  TOKENMETER_LOG_LEVEL: LogLevel,
  TOKENMETER_ROLLUP_TAG_KEYS: RollupTagKeys,
  // Transport and batching settings, the same as the standalone ingest service's.
  ...IngestConfig.pick({
    TOKENMETER_KAFKA_BROKERS: true,
    TOKENMETER_KAFKA_TOPIC: true,
    TOKENMETER_KAFKA_DLQ_TOPIC: true,
    TOKENMETER_KAFKA_GROUP_ID: true,
    TOKENMETER_BATCH_MAX_ROWS: true,
    TOKENMETER_BATCH_MAX_BYTES: true,
    TOKENMETER_BATCH_MAX_DELAY_MS: true,
    TOKENMETER_BATCH_MAX_BUFFERED_BYTES: true,
    TOKENMETER_BATCH_MAX_ATTEMPTS: true,
    TOKENMETER_DEDUP_WINDOW_MS: true,
  }).shape,
  ...KafkaIngestConfig.omit({
    TOKENMETER_FAULT_INSERT_FAIL_RATE: true,
    TOKENMETER_FAULT_INSERT_TIMEOUT_RATE: true,
    TOKENMETER_FAULT_INSERT_DELAY_MS: true,
    TOKENMETER_FAULT_EXTRA_MEMBER_SIGNAL: true,
  }).shape,
  // The pricing job's own settings (source, cron, retries), shared with its standalone worker.
  ...PricingConfig.shape,
  // Budgets and alerts: the check's refresh, webhook delivery, the evaluation schedule.
  ...AlertsConfig.shape,
});
export type AppConfig = z.output<typeof AppConfig>;

/** Parses the environment, reporting every problem at once. */
export function loadConfig(env: Record<string, string | undefined>): ConfigResult<AppConfig> {
  return parseEnv(AppConfig, env);
}
