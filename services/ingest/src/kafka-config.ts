import { type ConfigResult, parseEnv } from "@tokenmeter/core";
import { z } from "zod";

const positiveInt = z.coerce.number().int("must be an integer").positive("must be > 0");
const rate = z.coerce.number().min(0, "must be 0-1").max(1, "must be 0-1");
const flag = z.enum(["0", "1", "true", "false"]).transform((v) => v === "1" || v === "true");

/**
 * Kafka consumer settings beyond the broker list, topic and group (those are
 * in config.ts). Read once in main.ts. Defaults suit a 2-core machine.
 */
export const KafkaIngestConfig = z.object({
  TOKENMETER_KAFKA_CLIENT_ID: z.string().default("tokenmeter-ingest"),
  /** Partitions given to topics this service creates (dev / all-in-one); existing topics keep theirs. */
  TOKENMETER_KAFKA_PARTITIONS: positiveInt.default(6),
  TOKENMETER_KAFKA_CREATE_TOPICS: flag.default(true),
  /** Partitions of this member processed at once (kafkajs partitionsConsumedConcurrently). */
  TOKENMETER_KAFKA_CONCURRENCY: positiveInt.default(2),
  TOKENMETER_KAFKA_SESSION_TIMEOUT_MS: positiveInt.default(30_000),
  TOKENMETER_KAFKA_HEARTBEAT_INTERVAL_MS: positiveInt.default(3_000),
  /** Messages per insert: one batch takes a range from each of the member's partitions. */
  TOKENMETER_KAFKA_MAX_BATCH_ROWS: positiveInt.default(200_000),
  /** Message bytes per insert. */
  TOKENMETER_KAFKA_MAX_BATCH_BYTES: positiveInt.default(128 * 1024 * 1024),
  /** A consumed message waits at most this long to be taken into an insert (freshness). */
  TOKENMETER_KAFKA_MAX_DELAY_MS: positiveInt.default(500),
  /** Fetch size per partition; bounds one kafkajs batch and so the memory of a partition in flight. */
  TOKENMETER_KAFKA_MAX_BYTES_PER_PARTITION: positiveInt.default(4 * 1024 * 1024),
  /** Message bytes read but not yet stored (the next batch + the one being written); beyond, fetching waits. */
  TOKENMETER_KAFKA_MAX_IN_FLIGHT_BYTES: positiveInt.default(320 * 1024 * 1024),
  /** A message larger than this goes to the DLQ undecoded (an event is a few KB at most). */
  TOKENMETER_KAFKA_MAX_EVENT_BYTES: positiveInt.default(256 * 1024),
  /**
   * TEST ONLY (fault injection, see docs/exactly-once.md). Never set these in
   * production: they make inserts fail on purpose.
   * - INSERT_FAIL_RATE: share of inserts rejected before they run.
   * - INSERT_TIMEOUT_RATE: share of inserts that RUN and then report a timeout
   *   (the ambiguous case: stored, but the caller does not know).
   * - INSERT_DELAY_MS: extra random delay up to this before each insert.
   * - EXTRA_MEMBER_SIGNAL: SIGUSR2 toggles a second consumer member in this
   *   process (join / leave), to force rebalances against the same store.
   * - INSERT_REFUSE_MARKER: rows holding this text are refused by the engine
   *   (a real data error: the marker is rewritten into text it cannot parse),
   *   to exercise the split of a batch around a refused row.
   */
  TOKENMETER_FAULT_INSERT_FAIL_RATE: rate.default(0),
  TOKENMETER_FAULT_INSERT_TIMEOUT_RATE: rate.default(0),
  TOKENMETER_FAULT_INSERT_DELAY_MS: z.coerce.number().int().min(0).default(0),
  TOKENMETER_FAULT_EXTRA_MEMBER_SIGNAL: flag.default(false),
  TOKENMETER_FAULT_INSERT_REFUSE_MARKER: z.string().min(4, "at least 4 characters").optional(),
});
export type KafkaIngestConfig = z.output<typeof KafkaIngestConfig>;

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
    c.TOKENMETER_FAULT_EXTRA_MEMBER_SIGNAL ||
    c.TOKENMETER_FAULT_INSERT_REFUSE_MARKER !== undefined
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
