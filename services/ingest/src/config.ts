import { StoreEnv } from "@tokenmeter/clickhouse";
import type { BatchPolicy } from "@tokenmeter/core";
import { type ConfigResult, LogLevel, parseEnv } from "@tokenmeter/core";
import { ApiKeys, JwtSecret } from "@tokenmeter/http";
import { z } from "zod";

const positiveInt = z.coerce.number().int("must be an integer").positive("must be > 0");

/**
 * Settings of the ingest service, read from the environment once in main.ts.
 * Unset TOKENMETER_CLICKHOUSE_URL means chDB in TOKENMETER_DATA_DIR; unset
 * TOKENMETER_KAFKA_BROKERS means HTTP ingest writes to the batching writer
 * directly. Batch settings left unset take DEFAULT_BATCH_POLICY.
 */
export const IngestConfig = z.object({
  TOKENMETER_INGEST_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
  TOKENMETER_HOST: z.string().default("127.0.0.1"),
  TOKENMETER_JWT_SECRET: JwtSecret,
  TOKENMETER_API_KEYS: ApiKeys,
  ...StoreEnv.shape,
  TOKENMETER_KAFKA_BROKERS: z.string().optional(),
  TOKENMETER_KAFKA_TOPIC: z.string().default("llm.usage.v1"),
  TOKENMETER_KAFKA_DLQ_TOPIC: z.string().default("llm.usage.v1.dlq"),
  TOKENMETER_KAFKA_GROUP_ID: z.string().default("tokenmeter-ingest"),
  TOKENMETER_BATCH_MAX_ROWS: positiveInt.optional(),
  TOKENMETER_BATCH_MAX_BYTES: positiveInt.optional(),
  TOKENMETER_BATCH_MAX_DELAY_MS: positiveInt.optional(),
  TOKENMETER_BATCH_MAX_BUFFERED_BYTES: positiveInt.optional(),
  TOKENMETER_BATCH_MAX_ATTEMPTS: positiveInt.optional(),
  /** Stored-id check window around a batch's event times (ms); default 1 day, 0 = the batch's own range. */
  TOKENMETER_DEDUP_WINDOW_MS: z.coerce.number().int("must be an integer").min(0, "must be >= 0").optional(),
  /** Set: "pricing updated" arrives over this Redis, so ingest re-prices without a restart. */
  TOKENMETER_REDIS_URL: z.url({ message: "must be a URL" }).optional(),
  TOKENMETER_REDIS_PREFIX: z.string().default("tokenmeter"),
  /** SIGTERM drain bound: past it the process exits 1 (the pod's grace period must exceed it plus preStop). */
  TOKENMETER_INGEST_DRAIN_TIMEOUT_MS: positiveInt.default(60_000),
  TOKENMETER_LOG_LEVEL: LogLevel,
});
export type IngestConfig = z.output<typeof IngestConfig>;

export type IngestConfigResult = ConfigResult<IngestConfig>;

/** Parses the environment, reporting every problem at once. Empty values count as unset. */
export function loadIngestConfig(env: Record<string, string | undefined>): IngestConfigResult {
  return parseEnv(IngestConfig, env);
}

/** The batch settings the environment overrides (the rest stay default). */
export function batchPolicyFromConfig(
  c: Pick<
    IngestConfig,
    | "TOKENMETER_BATCH_MAX_ROWS"
    | "TOKENMETER_BATCH_MAX_BYTES"
    | "TOKENMETER_BATCH_MAX_DELAY_MS"
    | "TOKENMETER_BATCH_MAX_BUFFERED_BYTES"
    | "TOKENMETER_BATCH_MAX_ATTEMPTS"
  >,
): Partial<BatchPolicy> {
  const p: Partial<BatchPolicy> = {};
  if (c.TOKENMETER_BATCH_MAX_ROWS !== undefined) p.maxRows = c.TOKENMETER_BATCH_MAX_ROWS;
  if (c.TOKENMETER_BATCH_MAX_BYTES !== undefined) p.maxBytes = c.TOKENMETER_BATCH_MAX_BYTES;
  if (c.TOKENMETER_BATCH_MAX_DELAY_MS !== undefined) p.maxDelayMs = c.TOKENMETER_BATCH_MAX_DELAY_MS;
  if (c.TOKENMETER_BATCH_MAX_BUFFERED_BYTES !== undefined) p.maxBufferedBytes = c.TOKENMETER_BATCH_MAX_BUFFERED_BYTES;
  if (c.TOKENMETER_BATCH_MAX_ATTEMPTS !== undefined) p.maxAttempts = c.TOKENMETER_BATCH_MAX_ATTEMPTS;
  return p;
}
