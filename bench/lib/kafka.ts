import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import { type EventSetSpec, eventSet } from "./events.js";
import { REPO_DIR } from "./results.js";
import { rate } from "./stats.js";

const run = promisify(execFile);

/**
 * Starts a throwaway broker with the Kafka engineer's script
 * (scripts/kafka/start.sh) in its own state dir; returns "host:port".
 */
export async function startBroker(stateDir: string, heap = "1g"): Promise<string> {
  const { stdout } = await run(join(REPO_DIR, "scripts/kafka/start.sh"), [stateDir], {
    env: { ...process.env, KAFKA_HEAP: heap },
    timeout: 300_000,
  });
  const brokers = stdout.trim().split("\n").pop() ?? "";
  if (!/^[\d.]+:\d+$/.test(brokers)) throw new Error(`broker start printed ${JSON.stringify(stdout)}`);
  return brokers;
}

export async function stopBroker(stateDir: string): Promise<void> {
  await run(join(REPO_DIR, "scripts/kafka/stop.sh"), [stateDir], { timeout: 60_000 });
}

/** A quiet kafkajs client: failures surface as rejections, and benchmarks print their own figures. */
export function kafkaClient(brokers: string, clientId = "tokenmeter-bench"): Kafka {
  return new Kafka({ clientId, brokers: brokers.split(","), logLevel: logLevel.NOTHING });
}

export interface ProducedTopic {
  brokers: string;
  topic: string;
  partitions: number;
  spec: EventSetSpec;
  /** Total bytes of message values (the serialized events). */
  bytes: number;
  produce_ms: number;
}

/**
 * Creates `topic` with `partitions` and produces the event set into it, keyed
 * by event_id (as the SDK does), acks=all, uncompressed, in batches of
 * `batch` messages with a few sends in flight. Resolves when every message is
 * acked: "produce complete" for the end-to-end clock.
 */
export async function produceEventSet(
  brokers: string,
  topic: string,
  partitions: number,
  spec: EventSetSpec,
  batch = 5_000,
): Promise<ProducedTopic> {
  const kafka = kafkaClient(brokers, "bench-producer");
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const started = performance.now();
  let bytes = 0;
  const inflight = new Set<Promise<unknown>>();
  try {
    let messages: { key: string; value: string }[] = [];
    const send = async () => {
      const p = producer.send({ topic, acks: -1, compression: CompressionTypes.None, messages });
      messages = [];
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      // Bounded pipelining: enough to keep the broker busy, not the heap.
      if (inflight.size >= 4) await Promise.race(inflight);
    };
    for (const chunk of eventSet(spec)) {
      for (const e of chunk) {
        const value = JSON.stringify(e);
        bytes += Buffer.byteLength(value);
        messages.push({ key: e.event_id, value });
        if (messages.length >= batch) await send();
      }
    }
    if (messages.length > 0) await send();
    await Promise.all(inflight);
  } finally {
    await producer.disconnect();
  }
  return { brokers, topic, partitions, spec, bytes, produce_ms: Math.round(performance.now() - started) };
}

/** Sum of the partitions' high watermarks: how many messages the topic holds. */
export async function topicSize(brokers: string, topic: string): Promise<number> {
  const admin = kafkaClient(brokers, "bench-admin").admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((s, o) => s + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

export interface BenchTopic {
  brokers: string;
  topic: string;
  /** Produce figures when this scenario produced the topic itself, else empty. */
  produced: Record<string, unknown>;
  /** Stops and removes the broker this scenario started, if it started one. */
  release(): Promise<void>;
}

/**
 * A scenario's topic: the runner's shared one (`--brokers` and `--topic`, so
 * every scenario of a run reads the same messages), or a fresh `<prefix>.<now>`
 * topic produced here, on the given broker or on a throwaway one started here.
 */
export async function benchTopic(opts: {
  brokers?: string | undefined;
  topic?: string | undefined;
  prefix: string;
  partitions: number;
  spec: EventSetSpec;
  log: (m: string) => void;
}): Promise<BenchTopic> {
  const brokerDir = opts.brokers ? null : mkdtempSync(join(tmpdir(), "tokenmeter-bench-kafka-"));
  const brokers = opts.brokers ?? (await startBroker(brokerDir as string));
  const release = async () => {
    if (!brokerDir) return;
    await stopBroker(brokerDir).catch(() => undefined);
    rmSync(brokerDir, { recursive: true, force: true });
  };
  if (opts.brokers && opts.topic) return { brokers, topic: opts.topic, produced: {}, release };
  const topic = `${opts.prefix}.${Date.now()}`;
  const p = await produceEventSet(brokers, topic, opts.partitions, opts.spec);
  opts.log(`produced ${opts.spec.events} events to ${topic} in ${p.produce_ms} ms`);
  return {
    brokers,
    topic,
    produced: { produce_ms: p.produce_ms, produce_rate: rate(opts.spec.events, p.produce_ms), bytes: p.bytes },
    release,
  };
}
