import { KafkaIngestConfig } from "@tokenmeter/config";
import { type ConfigResult, parseEnv } from "@tokenmeter/core";
import { z } from "zod";

// The schema is declared with every other process's in @tokenmeter/config (one name, one definition).
export { KafkaIngestConfig };

export type KafkaIngestConfigResult = ConfigResult<KafkaIngestConfig>;

/** Parses the Kafka settings from the environment, every problem at once. Empty values count as unset. */
export function loadKafkaIngestConfig(env: Record<string, string | undefined>): KafkaIngestConfigResult {
  return parseEnv(KafkaIngestConfig, env);
}

/** Whether any test-only fault is switched on (main.ts logs a loud warning then). */
export function faultsEnabled(c: KafkaIngestConfig): boolean {
  return (
    c.TOKENMETER_FAULT_INSERT_FAIL_RATE > 0 ||
    c.TOKENMETER_FAULT_INSERT_TIMEOUT_RATE > 0 ||
    c.TOKENMETER_FAULT_INSERT_DELAY_MS > 0 ||
    c.TOKENMETER_FAULT_EXTRA_MEMBER_SIGNAL
  );
}

/** The process environment: read here, in a config file, and passed down from main / the CLI. */
export function readEnv(): Record<string, string | undefined> {
  return process.env;
}

/** What the Kafka tools (`tokenmeter loadgen`, `tokenmeter dlq`) need: brokers and topic names. */
export const KafkaToolConfig = z.object({
  TOKENMETER_KAFKA_BROKERS: z.string().min(1, "is required (host:port,host:port)"),
  TOKENMETER_KAFKA_TOPIC: z.string().default("llm.usage.v1"),
  TOKENMETER_KAFKA_DLQ_TOPIC: z.string().default("llm.usage.v1.dlq"),
  TOKENMETER_KAFKA_CLIENT_ID: z.string().default("tokenmeter-cli"),
});
export type KafkaToolConfig = z.output<typeof KafkaToolConfig>;

/** Parses the Kafka tool settings; `overrides` (command-line flags) win over the environment. */
export function loadKafkaToolConfig(
  env: Record<string, string | undefined>,
  overrides: Partial<Record<keyof KafkaToolConfig, string | undefined>> = {},
): { ok: true; config: KafkaToolConfig } | { ok: false; errors: string[] } {
  const relevant = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith("TOKENMETER_KAFKA_") && v !== ""));
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined && v !== "") relevant[k] = v;
  const parsed = KafkaToolConfig.safeParse(relevant);
  if (parsed.success) return { ok: true, config: parsed.data };
  return { ok: false, errors: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`) };
}
