/**
 * Every TOKENMETER_* setting, declared once, in groups that the services'
 * schemas (services.ts) compose. A setting read by several processes is one
 * entry here, so its name, default and validation cannot drift between them.
 */
import { StoreEnv } from "@tokenmeter/clickhouse";
import { LogLevel } from "@tokenmeter/core";
import { ApiKeys, JwtSecret } from "@tokenmeter/http";
import { CronExpressionParser } from "cron-parser";
import { z } from "zod";

export { StoreEnv };

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int("must be an integer").positive("must be > 0");
const rate = z.coerce.number().min(0, "must be 0-1").max(1, "must be 0-1");
const flag = z.enum(["0", "1", "true", "false"]).transform((v) => v === "1" || v === "true");
const bool = z
  .enum(["0", "1", "true", "false", "yes", "no"], { message: "must be 0/1/true/false" })
  .transform((v) => v === "1" || v === "true" || v === "yes");
const cron = z.string().refine((v) => {
  try {
    CronExpressionParser.parse(v, { tz: "UTC" });
    return true;
  } catch {
    return false;
  }
}, "must be a cron pattern, e.g. '17 4 * * *'");

/** LiteLLM's published price list: the default pricing source. */
export const LITELLM_PRICES_URL = "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json";

/** Where each process listens (its port setting is its own, below). */
export const ListenEnv = z.object({ TOKENMETER_HOST: z.string().default("127.0.0.1") });
export const QueryPortEnv = z.object({ TOKENMETER_PORT: port.default(8080) });
export const IngestPortEnv = z.object({ TOKENMETER_INGEST_PORT: port.default(8081) });
export const WorkerPortEnv = z.object({ TOKENMETER_METRICS_PORT: port.default(9464) });

export const LogEnv = z.object({ TOKENMETER_LOG_LEVEL: LogLevel });

/** Credentials of the HTTP APIs; the JWT secret is required everywhere but the all-in-one (which generates one). */
export const AuthEnv = z.object({ TOKENMETER_JWT_SECRET: JwtSecret, TOKENMETER_API_KEYS: ApiKeys });

/** Unset: the in-memory cache, in-process schedules and "pricing updated" (the embedded default). */
export const RedisEnv = z.object({ TOKENMETER_REDIS_URL: z.url({ message: "must be a URL" }).optional() });

/** The "pricing updated" channel `<prefix>:pricing-updated`: every process that prices or publishes prices reads it. */
export const PricingUpdatesEnv = z.object({ TOKENMETER_REDIS_PREFIX: z.string().default("tokenmeter") });

/**
 * A price override's straggler pass (query, all-in-one, `pricing set`): how
 * long after the override's re-price its second pass runs, once every ingest
 * process has reloaded and flushed what it priced before. The default covers
 * the default batching (500 ms) and a failing insert's retries (≈ 8 s); raise
 * it with TOKENMETER_BATCH_MAX_DELAY_MS / TOKENMETER_KAFKA_MAX_DELAY_MS.
 */
export const PriceOverrideEnv = z.object({
  TOKENMETER_PRICING_STRAGGLER_DELAY_MS: z.coerce.number().int("must be an integer").min(100).max(120_000).default(10_000),
});

/** The query result cache. */
export const CacheEnv = z.object({
  TOKENMETER_REDIS_KEY_PREFIX: z.string().default("tokenmeter:q:"),
  TOKENMETER_CACHE_MAX_ENTRIES: z.coerce.number().int().positive().default(5_000),
});

/** Where usage events travel in distributed mode. Unset brokers: HTTP ingest writes to the batching writer. */
export const KafkaTopicsEnv = z.object({
  TOKENMETER_KAFKA_BROKERS: z.string().optional(),
  TOKENMETER_KAFKA_TOPIC: z.string().default("llm.usage.v1"),
  TOKENMETER_KAFKA_DLQ_TOPIC: z.string().default("llm.usage.v1.dlq"),
  TOKENMETER_KAFKA_GROUP_ID: z.string().default("tokenmeter-ingest"),
});

/** The Kafka consumer beyond brokers, topic and group. Defaults suit a 2-core machine. */
export const KafkaConsumerEnv = z.object({
  TOKENMETER_KAFKA_CLIENT_ID: z.string().default("tokenmeter-ingest"),
  /** Partitions given to topics this service creates (dev / all-in-one); existing topics keep theirs. */
  TOKENMETER_KAFKA_PARTITIONS: positiveInt.default(6),
  TOKENMETER_KAFKA_CREATE_TOPICS: flag.default(true),
  /** Partitions of this member processed at once (kafkajs partitionsConsumedConcurrently). */
  TOKENMETER_KAFKA_CONCURRENCY: positiveInt.default(2),
  /** How long the group waits for a silent member (a SIGKILLed pod) before moving its partitions: docs/operations.md "Recovery time". */
  TOKENMETER_KAFKA_SESSION_TIMEOUT_MS: positiveInt.default(10_000),
  TOKENMETER_KAFKA_HEARTBEAT_INTERVAL_MS: positiveInt.default(1_000),
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
   * Worker threads that decode, validate, price and serialize fetched messages: "auto" = one per core, 0 = on the
   * main thread. Off by default: on 2 shared cores it did not win (docs/benchmarks.md §1, "Staging on worker threads").
   */
  TOKENMETER_KAFKA_STAGE_WORKERS: z
    .union([z.literal("auto"), z.coerce.number().int("must be an integer").min(0, "must be >= 0")], {
      message: 'must be "auto" or a whole number >= 0',
    })
    .default(0),
});

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
export const FaultEnv = z.object({
  TOKENMETER_FAULT_INSERT_FAIL_RATE: rate.default(0),
  TOKENMETER_FAULT_INSERT_TIMEOUT_RATE: rate.default(0),
  TOKENMETER_FAULT_INSERT_DELAY_MS: z.coerce.number().int().min(0).default(0),
  TOKENMETER_FAULT_EXTRA_MEMBER_SIGNAL: flag.default(false),
  TOKENMETER_FAULT_INSERT_REFUSE_MARKER: z.string().min(4, "at least 4 characters").optional(),
});

/** The batching writer (embedded mode). Unset values take DEFAULT_BATCH_POLICY. */
export const BatchEnv = z.object({
  TOKENMETER_BATCH_MAX_ROWS: positiveInt.optional(),
  TOKENMETER_BATCH_MAX_BYTES: positiveInt.optional(),
  TOKENMETER_BATCH_MAX_DELAY_MS: positiveInt.optional(),
  TOKENMETER_BATCH_MAX_BUFFERED_BYTES: positiveInt.optional(),
  TOKENMETER_BATCH_MAX_ATTEMPTS: positiveInt.optional(),
  /** Stored-id check window around a batch's event times (ms); default 1 day, 0 = the batch's own range. */
  TOKENMETER_DEDUP_WINDOW_MS: z.coerce.number().int("must be an integer").min(0, "must be >= 0").optional(),
});

/** The ingest process's SIGTERM bound: past it, it exits 1 (the pod's grace period must exceed it plus preStop). */
export const DrainEnv = z.object({ TOKENMETER_INGEST_DRAIN_TIMEOUT_MS: positiveInt.default(60_000) });

/** The price refresh job. */
export const PricingJobEnv = z.object({
  /** http(s) URL, a file path, or "bundled". */
  TOKENMETER_PRICING_SOURCE: z.string().min(1).default(LITELLM_PRICES_URL),
  /** When the refresh runs (UTC). Default daily at 04:17, off the top of the hour. */
  TOKENMETER_PRICING_CRON: cron.default("17 4 * * *"),
  TOKENMETER_PRICING_FETCH_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
  TOKENMETER_PRICING_FETCH_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  /** Tries per refresh job, the first included (BullMQ attempts). */
  TOKENMETER_PRICING_JOB_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(5),
  /** First retry delay of a failed job; doubles each retry. */
  TOKENMETER_PRICING_BACKOFF_MS: z.coerce.number().int().min(10).max(86_400_000).default(60_000),
  /** A document pricing fewer models is rejected as truncated. */
  TOKENMETER_PRICING_MIN_MODELS: z.coerce.number().int().min(1).default(1),
  /** A document missing more than this share of its source's known models is rejected as partial. */
  TOKENMETER_PRICING_MAX_MISSING_FRACTION: z.coerce.number().min(0).max(1).default(0.5),
  TOKENMETER_PRICING_QUEUE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, _ . - only")
    .default("tokenmeter-pricing"),
});

/** Demo data of the all-in-one. */
export const DemoEnv = z.object({
  TOKENMETER_DEMO: bool.default(true),
  TOKENMETER_DEMO_EVENTS: z.coerce.number().int().min(0).max(10_000_000).default(250_000),
});

/** Operator jobs on a ClickHouse cluster (name or "{cluster}"): migrate applies the rendered cluster schema. */
export const ClusterEnv = z.object({
  TOKENMETER_CLICKHOUSE_CLUSTER: z
    .string()
    .regex(/^[A-Za-z0-9_{}.-]+$/, "must be a cluster name or {cluster}")
    .optional(),
});

/**
 * TOKENMETER_ROLLUP_TAG_KEYS: comma-separated tag keys answered from the tag
 * rollup (issue 16), e.g. "team,feature"; empty = none. Keys follow the event
 * schema's rule (1-64 of A-Z a-z 0-9 _ . : -); at most 10 (each multiplies the
 * tag rollup's rows).
 */
export const RollupTagKeys = z
  .string()
  .default("")
  .transform((s) =>
    [
      ...new Set(
        s
          .split(",")
          .map((k) => k.trim())
          .filter(Boolean),
      ),
    ].sort(),
  )
  .pipe(
    z.array(z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, "tag keys are 1-64 characters of A-Z a-z 0-9 _ . : -")).max(10, "at most 10 keys"),
  );

/** Tag keys promoted to the tag rollup: read by every process that serves queries (it syncs the rollup at start). */
export const TagRollupEnv = z.object({ TOKENMETER_ROLLUP_TAG_KEYS: RollupTagKeys });

/** The budgets pre-call check (query, all-in-one). */
export const BudgetCheckEnv = z.object({
  /** How often the pre-call check's snapshot re-reads spent (its lag behind ingestion). */
  TOKENMETER_BUDGET_REFRESH_MS: z.coerce.number().int().min(100).max(60_000).default(1_000),
});

/** Webhook delivery: checked at save (query) and used by every delivery (worker). */
export const WebhookEnv = z.object({
  /** Allow webhooks to loopback/private addresses (a cluster's own services are private: off by default). */
  TOKENMETER_WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  TOKENMETER_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /** First retry delay of a failed delivery; doubles after each failure (DESIGN.md: at most 60 s). */
  TOKENMETER_WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).max(60_000).default(60_000),
  TOKENMETER_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(8).default(8),
});

/** The alert jobs' schedule and queues (worker, all-in-one). */
export const AlertJobsEnv = z.object({
  TOKENMETER_ALERT_EVAL_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  TOKENMETER_ALERT_QUEUE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, _ . - only")
    .default("tokenmeter-alerts"),
});

/** Budgets and alerts, whole: the check's refresh, webhook delivery, the evaluation schedule. */
export const AlertsConfig = z.object({ ...BudgetCheckEnv.shape, ...WebhookEnv.shape, ...AlertJobsEnv.shape });
export type AlertsConfig = z.output<typeof AlertsConfig>;

/** The webhook delivery policy a config describes. */
export function deliveryPolicy(c: z.output<typeof WebhookEnv>) {
  return {
    allowPrivate: c.TOKENMETER_WEBHOOK_ALLOW_PRIVATE,
    timeoutMs: c.TOKENMETER_WEBHOOK_TIMEOUT_MS,
    retryBaseMs: c.TOKENMETER_WEBHOOK_RETRY_BASE_MS,
    maxAttempts: c.TOKENMETER_WEBHOOK_MAX_ATTEMPTS,
  };
}
