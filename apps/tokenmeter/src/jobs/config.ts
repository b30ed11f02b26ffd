import { z } from "zod";

/**
 * What the operator jobs (migrate, rebuild-rollups, backfill) read from the
 * environment: only storage and logging, so a job never fails on a setting
 * it does not use. The same ConfigMap/Secret as the services feeds it in k8s.
 */
export const JobConfig = z.object({
  TOKENMETER_CLICKHOUSE_URL: z.url({ message: "must be a URL" }).optional(),
  TOKENMETER_CLICKHOUSE_USER: z.string().default("default"),
  TOKENMETER_CLICKHOUSE_PASSWORD: z.string().default(""),
  TOKENMETER_CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an identifier")
    .default("tokenmeter"),
  /** Set on a ClickHouse cluster (name or "{cluster}"): migrate applies the rendered cluster schema. */
  TOKENMETER_CLICKHOUSE_CLUSTER: z
    .string()
    .regex(/^[A-Za-z0-9_{}.-]+$/, "must be a cluster name or {cluster}")
    .optional(),
  TOKENMETER_DATA_DIR: z.string().default("./data"),
  TOKENMETER_LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
});
export type JobConfig = z.output<typeof JobConfig>;

export type JobConfigResult = { ok: true; config: JobConfig } | { ok: false; errors: string[] };

/** Parses the environment (default: this process's), reporting every problem at once. */
export function loadJobConfig(env: Record<string, string | undefined> = process.env): JobConfigResult {
  const relevant = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith("TOKENMETER_") && v !== ""));
  const parsed = JobConfig.safeParse(relevant);
  if (parsed.success) return { ok: true, config: parsed.data };
  return { ok: false, errors: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`) };
}
