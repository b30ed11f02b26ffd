import { loadProcessConfig, type ProcessConfig, QueryConfig } from "@tokenmeter/config";

// The schema is declared with every other process's in @tokenmeter/config (one name, one definition).
export { QueryConfig };

export type QueryConfigResult = ProcessConfig<QueryConfig>;

/** Parses the environment, reporting every problem at once. Empty values count as unset. */
export function loadQueryConfig(env: Record<string, string | undefined>): QueryConfigResult {
  return loadProcessConfig(QueryConfig, env);
}
