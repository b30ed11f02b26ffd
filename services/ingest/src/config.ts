import { IngestConfig, loadProcessConfig, type ProcessConfig } from "@tokenmeter/config";
import type { BatchPolicy } from "@tokenmeter/core";

// The schema is declared with every other process's in @tokenmeter/config (one name, one definition).
export { IngestConfig };

export type IngestConfigResult = ProcessConfig<IngestConfig>;

/** Parses the environment, reporting every problem at once. Empty values count as unset. */
export function loadIngestConfig(env: Record<string, string | undefined>): IngestConfigResult {
  return loadProcessConfig(IngestConfig, env);
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
