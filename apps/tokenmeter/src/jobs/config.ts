import { JobConfig, loadProcessConfig, type ProcessConfig } from "@tokenmeter/config";

// What the operator jobs read (storage and logging only), declared with every
// other process's settings in @tokenmeter/config.
export { JobConfig };

export type JobConfigResult = ProcessConfig<JobConfig>;

/** Parses the environment (default: this process's), reporting every problem at once. */
export function loadJobConfig(env: Record<string, string | undefined> = process.env): JobConfigResult {
  return loadProcessConfig(JobConfig, env);
}
