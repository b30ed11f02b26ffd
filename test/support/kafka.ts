import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type UsageEvent, type UsageEventInput, validateEvent } from "@tokenmeter/core";
import { Kafka, logLevel, type Message } from "kafkajs";
import { demoEvents } from "../../apps/tokenmeter/src/demo.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const DEV_STATE = join(REPO, ".cache/kafka/run");

/**
 * Bootstrap brokers of the real Kafka broker the tests use:
 * TOKENMETER_TEST_KAFKA_BROKERS (set by scripts/test.d/20-kafka.sh, which
 * honours TOKENMETER_KAFKA_BROKERS). Running one test file by hand without it
 * starts (or reuses) the dev broker of scripts/kafka/start.sh, left running.
 */
export function testBrokers(): string {
  const given = process.env.TOKENMETER_TEST_KAFKA_BROKERS;
  if (given) return given;
  const file = join(DEV_STATE, "brokers");
  if (existsSync(file)) {
    const brokers = readFileSync(file, "utf8").trim();
    if (brokers && reachable(brokers)) return brokers;
  }
  return execFileSync(join(REPO, "scripts/kafka/start.sh"), [DEV_STATE], { encoding: "utf8", timeout: 300_000 }).trim();
}

function reachable(brokers: string): boolean {
  const [host, port] = brokers.split(",")[0]!.split(":");
  try {
    execFileSync("bash", ["-c", `exec 3<>/dev/tcp/${host}/${port}`], { timeout: 2_000, stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A topic name no other test uses (each test its own topic, group and DLQ). */
export function uniqueTopic(prefix = "t"): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A kafkajs client for test code (producing, inspecting), quiet unless something is broken. */
export function testKafka(brokers = testBrokers(), clientId = "tokenmeter-test"): Kafka {
  return new Kafka({ clientId, brokers: brokers.split(","), logLevel: logLevel.NOTHING, retry: { retries: 8 } });
}

export async function createTopic(kafka: Kafka, topic: string, numPartitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const mine = topics.filter((t) => existing.has(t));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Produces messages acks=all in chunks (idempotent producer). Objects are
 * JSON-encoded and keyed by their event_id, like the SDK; Buffers/strings
 * are sent as they are (poison messages).
 */
export async function produce(kafka: Kafka, topic: string, items: Array<object | Buffer | string>, chunk = 2_000): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let i = 0; i < items.length; i += chunk) {
      const messages: Message[] = items.slice(i, i + chunk).map((it) => {
        if (typeof it === "string" || Buffer.isBuffer(it)) return { value: it };
        const id = (it as { event_id?: unknown }).event_id;
        return { key: typeof id === "string" ? id : null, value: JSON.stringify(it) };
      });
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Committed offsets of a group summed over partitions, and the topic's end; for "caught up" waits. */
export async function groupLag(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    let lag = 0n;
    for (const e of ends) {
      const c = byPartition.get(e.partition) ?? -1n;
      lag += BigInt(e.high) - (c < 0n ? BigInt(e.low) : c);
    }
    return Number(lag);
  } finally {
    await admin.disconnect();
  }
}

/** Polls `check` until it returns true, bounded in time; throws with `what` on timeout. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Exactly `n` realistic events of the last two days (valid now), from the demo generator. */
export function liveEvents(n: number, seed: number): UsageEventInput[] {
  const out: UsageEventInput[] = [];
  // The generator gives "roughly" the count asked for; top up from further seeds.
  for (let round = 0; out.length < n && round < 20; round++) {
    for (const chunk of demoEvents({
      events: Math.max(1_000, (n - out.length) * 1.3),
      end: Date.now() - 60_000,
      days: 2,
      seed: seed + round * 7919,
    })) {
      out.push(...chunk);
      if (out.length >= n) break;
    }
  }
  if (out.length < n) throw new Error(`generator fell ${n - out.length} events short`);
  return out.slice(0, n);
}

/** The events as the consumer stores them (normalized by schema v1). */
export function normalized(events: UsageEventInput[], now = Date.now()): UsageEvent[] {
  return events.map((e) => {
    const v = validateEvent(e, { now });
    if (!v.ok) throw new Error(`generator made an invalid event: ${JSON.stringify(v.errors)}`);
    return v.event;
  });
}

/**
 * Every message of a topic as it is now, with its coordinates, decoded and
 * normalized (the events the consumer would store). A throwaway group that
 * never commits, bounded in time.
 */
export async function readEvents(
  kafka: Kafka,
  topic: string,
  timeoutMs = 30_000,
): Promise<Array<{ partition: number; offset: string; event: UsageEvent }>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).filter((o) => o.high !== o.low).map((o) => [o.partition, BigInt(o.high)]));
  await admin.disconnect();
  const out: Array<{ partition: number; offset: string; event: UsageEvent }> = [];
  if (ends.size === 0) return out;
  const consumer = kafka.consumer({ groupId: `test-read-${randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), timeoutMs);
      void consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const [e] = normalized([JSON.parse(m.value!.toString()) as UsageEventInput]);
            out.push({ partition: batch.partition, offset: m.offset, event: e! });
          }
          if (BigInt(batch.lastOffset()) + 1n >= (ends.get(batch.partition) ?? 0n)) ends.delete(batch.partition);
          if (ends.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}
