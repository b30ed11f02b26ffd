/**
 * One schema per process, composed from the groups in fragments.ts. Each is
 * parsed once, in that process's main.ts (or the CLI's job runner).
 */
import { z } from "zod";
import {
  AlertJobsEnv,
  AlertsConfig,
  AuthEnv,
  BatchEnv,
  BudgetCheckEnv,
  CacheEnv,
  ClusterEnv,
  DemoEnv,
  DrainEnv,
  FaultEnv,
  IngestPortEnv,
  KafkaConsumerEnv,
  KafkaTopicsEnv,
  ListenEnv,
  LogEnv,
  PriceOverrideEnv,
  PricingJobEnv,
  PricingUpdatesEnv,
  QueryPortEnv,
  RedisEnv,
  StoreEnv,
  TagRollupEnv,
  WebhookEnv,
  WorkerPortEnv,
} from "./fragments.js";

/**
 * services/query. Unset TOKENMETER_CLICKHOUSE_URL means chDB in
 * TOKENMETER_DATA_DIR; unset TOKENMETER_REDIS_URL the in-memory LRU.
 */
export const QueryConfig = z.object({
  ...QueryPortEnv.shape,
  ...ListenEnv.shape,
  ...AuthEnv.shape,
  ...StoreEnv.shape,
  ...RedisEnv.shape,
  ...PricingUpdatesEnv.shape,
  ...PriceOverrideEnv.shape,
  ...CacheEnv.shape,
  ...TagRollupEnv.shape,
  ...BudgetCheckEnv.shape,
  ...WebhookEnv.shape,
  ...LogEnv.shape,
});
export type QueryConfig = z.output<typeof QueryConfig>;

/**
 * services/ingest, without its Kafka consumer settings (KafkaIngestConfig).
 * Unset TOKENMETER_KAFKA_BROKERS means HTTP ingest writes to the batching
 * writer directly; set TOKENMETER_REDIS_URL carries "pricing updated".
 */
export const IngestConfig = z.object({
  ...IngestPortEnv.shape,
  ...ListenEnv.shape,
  ...AuthEnv.shape,
  ...StoreEnv.shape,
  ...KafkaTopicsEnv.shape,
  ...BatchEnv.shape,
  ...RedisEnv.shape,
  ...PricingUpdatesEnv.shape,
  ...DrainEnv.shape,
  ...LogEnv.shape,
});
export type IngestConfig = z.output<typeof IngestConfig>;

/** services/ingest's Kafka consumer and its test-only fault injection. */
export const KafkaIngestConfig = z.object({ ...KafkaConsumerEnv.shape, ...FaultEnv.shape });
export type KafkaIngestConfig = z.output<typeof KafkaIngestConfig>;

/** The price refresh job's own settings, shared by the worker and the all-in-one. */
export const PricingConfig = z.object({ ...PricingJobEnv.shape, ...PricingUpdatesEnv.shape });
export type PricingConfig = z.output<typeof PricingConfig>;

/** services/pricing-refresh, the worker: the price refresh and the alert jobs (evaluation, webhook delivery). */
export const PricingWorkerConfig = z.object({
  ...PricingConfig.shape,
  ...RedisEnv.shape,
  ...StoreEnv.shape,
  ...WorkerPortEnv.shape,
  ...ListenEnv.shape,
  ...WebhookEnv.shape,
  ...AlertJobsEnv.shape,
  ...LogEnv.shape,
});
export type PricingWorkerConfig = z.output<typeof PricingWorkerConfig>;

/**
 * apps/tokenmeter, the all-in-one: the three services' settings in one
 * process (one port, the JWT secret generated when unset), plus demo data.
 */
export const AppConfig = z.object({
  ...QueryPortEnv.shape,
  ...ListenEnv.shape,
  ...AuthEnv.partial({ TOKENMETER_JWT_SECRET: true }).shape,
  ...DemoEnv.shape,
  ...StoreEnv.shape,
  ...RedisEnv.shape,
  ...CacheEnv.shape,
  ...TagRollupEnv.shape,
  ...LogEnv.shape,
  ...KafkaTopicsEnv.shape,
  ...BatchEnv.shape,
  ...KafkaConsumerEnv.shape,
  ...PricingConfig.shape,
  ...PriceOverrideEnv.shape,
  ...AlertsConfig.shape,
});
export type AppConfig = z.output<typeof AppConfig>;

/**
 * The operator jobs (migrate, rebuild-rollups, backfill, reprice, pricing set):
 * storage and logging, so a job never fails on a setting it does not use, and
 * the optional "pricing updated" channel `pricing set` announces an override on.
 */
export const JobConfig = z.object({
  ...StoreEnv.shape,
  ...ClusterEnv.shape,
  ...LogEnv.shape,
  ...RedisEnv.shape,
  ...PricingUpdatesEnv.shape,
  ...PriceOverrideEnv.shape,
});
export type JobConfig = z.output<typeof JobConfig>;

/** Every process's schema by the name the README configuration table uses in "read by". */
export const PROCESS_SCHEMAS = {
  "all-in-one": AppConfig,
  query: QueryConfig,
  ingest: z.object({ ...IngestConfig.shape, ...KafkaIngestConfig.shape }),
  "pricing-refresh": PricingWorkerConfig,
  jobs: JobConfig,
} as const;
export type ProcessName = keyof typeof PROCESS_SCHEMAS;
