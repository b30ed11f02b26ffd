import { AuthEnv, JobConfig, loadProcessConfig, type ProcessConfig, StoreEnv } from "@tokenmeter/config";
import { type ConfigResult, parseEnv } from "@tokenmeter/core";
import { z } from "zod";

// What the operator jobs read (storage and logging only), declared with every
// other process's settings in @tokenmeter/config.
export { JobConfig };

export type JobConfigResult = ProcessConfig<JobConfig>;

/** Parses the environment (default: this process's), reporting every problem at once. */
export function loadJobConfig(env: Record<string, string | undefined> = process.env): JobConfigResult {
  return loadProcessConfig(JobConfig, env);
}

/**
 * What `tokenmeter token` reads: the configured JWT secret, or the data dir
 * where the all-in-one keeps the one it generated.
 */
export const TokenConfig = z.object({
  ...AuthEnv.pick({ TOKENMETER_JWT_SECRET: true }).partial().shape,
  ...StoreEnv.pick({ TOKENMETER_DATA_DIR: true }).shape,
});
export type TokenConfig = z.output<typeof TokenConfig>;

export function loadTokenConfig(env: Record<string, string | undefined> = process.env): ConfigResult<TokenConfig> {
  return parseEnv(TokenConfig, env);
}
