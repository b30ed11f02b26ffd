import { AppConfig, loadProcessConfig, type ProcessConfig } from "@tokenmeter/config";

// Every setting of the all-in-one process, composed from the services' own in
// @tokenmeter/config. Unset external parts (ClickHouse, Kafka, Redis) mean the
// embedded default (chDB, direct writes, in-memory cache).
export { AppConfig };

/** Parses the environment, reporting every problem at once. */
export function loadConfig(env: Record<string, string | undefined>): ProcessConfig<AppConfig> {
  return loadProcessConfig(AppConfig, env);
}
