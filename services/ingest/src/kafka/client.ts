import { type Admin, Kafka, type LogEntry, logLevel } from "kafkajs";
import type { Logger } from "pino";

export interface KafkaClientOptions {
  /** Bootstrap brokers, e.g. ["127.0.0.1:9092"]. */
  brokers: string[];
  clientId: string;
  logger: Logger;
}

/** Splits TOKENMETER_KAFKA_BROKERS ("h1:9092,h2:9092") into the list kafkajs wants. */
export function parseBrokers(list: string): string[] {
  return list
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
}

/**
 * A kafkajs client whose logs go to our pino logger (structured, one stream),
 * at warn and above: kafkajs logs every retried request at error level, which
 * a rebalance or a broker restart turns into noise, so those are demoted.
 */
export function createKafka(opts: KafkaClientOptions): Kafka {
  const log = opts.logger.child({ component: "kafkajs" });
  const logCreator = () => (entry: LogEntry) => {
    const { message, ...fields } = entry.log;
    // Our idempotent producers keep kafkajs's bounded retries on purpose (an HTTP
    // request must fail in bounded time); a repeat that slips through is dropped by
    // the consumer's event_id check, so this warning is not actionable.
    // kafkajs also warns once per producer that its default partitioner changed in v2; we
    // key by event_id and never relied on the old one.
    const expected = message.includes("may invalidate EoS") || message.includes("switched default partitioner");
    const level =
      entry.level <= logLevel.ERROR && !isRetriable(fields) ? "error" : entry.level <= logLevel.WARN && !expected ? "warn" : "debug";
    log[level]({ namespace: entry.namespace, ...fields }, message);
  };
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    logLevel: logLevel.WARN,
    logCreator,
    retry: { initialRetryTime: 100, retries: 8 },
  });
}

/** kafkajs marks protocol errors it will retry; those are expected during rebalances. */
function isRetriable(fields: Record<string, unknown>): boolean {
  const err = String(fields.error ?? "");
  return /coordinator|rebalanc|not the leader|leadership|loading|member id|generation|timeout/i.test(err);
}

export interface TopicSpec {
  topic: string;
  numPartitions: number;
}

/**
 * Creates the topics that are missing (idempotent; an existing topic keeps its
 * partition count). Production clusters usually create topics out of band;
 * this keeps dev, tests and the all-in-one mode one command away.
 */
export async function ensureTopics(admin: Admin, topics: TopicSpec[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return;
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((t) => ({ topic: t.topic, numPartitions: t.numPartitions })),
  });
}
