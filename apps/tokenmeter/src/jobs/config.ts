import { StoreEnv } from "@tokenmeter/clickhouse";
import { type ConfigResult, LogLevel, parseEnv } from "@tokenmeter/core";
import { JwtSecret } from "@tokenmeter/http";
import { z } from "zod";

/**
 * What the operator jobs (migrate, rebuild-rollups, backfill) read from the
 * environment: only storage and logging, so a job never fails on a setting
 * it does not use. The same ConfigMap/Secret as the services feeds it in k8s.
 */
export const JobConfig = z.object({
  ...StoreEnv.shape,
  /** Set on a ClickHouse cluster (name or "{cluster}"): migrate applies the rendered cluster schema. */
  TOKENMETER_CLICKHOUSE_CLUSTER: z
    .string()
    .regex(/^[A-Za-z0-9_{}.-]+$/, "must be a cluster name or {cluster}")
    .optional(),
  TOKENMETER_LOG_LEVEL: LogLevel,
});
export type JobConfig = z.output<typeof JobConfig>;

export type JobConfigResult = ConfigResult<JobConfig>;

/** Parses the environment (default: this process's), reporting every problem at once. */
export function loadJobConfig(env: Record<string, string | undefined> = process.env): JobConfigResult {
  return parseEnv(JobConfig, env);
}

/**
 * What `tokenmeter token` reads: the configured JWT secret, or the data dir
 * where the all-in-one keeps the one it generated.
 */
export const TokenConfig = z.object({
  TOKENMETER_JWT_SECRET: JwtSecret.optional(),
  TOKENMETER_DATA_DIR: StoreEnv.shape.TOKENMETER_DATA_DIR,
});
export type TokenConfig = z.output<typeof TokenConfig>;

export function loadTokenConfig(env: Record<string, string | undefined> = process.env): ConfigResult<TokenConfig> {
  return parseEnv(TokenConfig, env);
}
