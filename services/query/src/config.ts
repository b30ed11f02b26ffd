import { AlertsConfig, deliveryPolicy, loadProcessConfig, type ProcessConfig, QueryConfig, RollupTagKeys } from "@tokenmeter/config";

// The schema is declared with every other process's in @tokenmeter/config (one name, one definition).
export { AlertsConfig, deliveryPolicy, QueryConfig, RollupTagKeys };

export type QueryConfigResult = ProcessConfig<QueryConfig>;

/** Parses the environment, reporting every problem at once. Empty values count as unset. */
export function loadQueryConfig(env: Record<string, string | undefined>): QueryConfigResult {
  return loadProcessConfig(QueryConfig, env);
}
