import type { ChdbStore } from "@tokenmeter/clickhouse";
import { USAGE_TSV_HEADER } from "@tokenmeter/core";
import { benchArgs, numberOption } from "./lib/args.js";
import { benchDataDir, countRows, openBenchStore, removeDataDir } from "./lib/chdb.js";
import { type EventSetSpec, eventSet, toTsvLine } from "./lib/events.js";
import { benchTopic, kafkaClient, topicSize } from "./lib/kafka.js";
import { drainWithPeer } from "./lib/peer.js";
import { writeResult } from "./lib/results.js";
import { topicSpec } from "./lib/scenarios.js";
import { rate, round } from "./lib/stats.js";

const args = benchArgs();
const { spec, partitions } = topicSpec(args);
const timeoutMs = numberOption(args, "timeout-ms", 600_000, 120_000);

async function main() {
  // 1. The topic: given by the caller (shared with the end-to-end run), or ours.
  const { brokers, topic, produced, release } = await benchTopic({
    brokers: args.options.brokers,
    topic: args.options.topic,
    prefix: "bench.ceilings",
    partitions,
    spec,
    log,
  });
  const expected = await topicSize(brokers, topic);
  const dataDir = benchDataDir("ceilings");
  // Both stores open up front: closing chDB's last session shuts the engine
  // down for the rest of the process.
  const rawStore = await openBenchStore(dataDir, "bench_raw");
  const peerStore = await openBenchStore(dataDir, "bench_peer");
  try {
    // 2. Consume-and-discard: the client's own ceiling.
    const discard = await consumeAndDiscard(brokers, topic, expected);
    log(`consume-and-discard: ${discard.rate} msg/s`);
    // 3. Raw insert of the same rows as one stream.
    const raw = await rawInsert(rawStore, spec);
    log(`raw insert: ${raw.rate} rows/s`);
    // 4. The Kafka table engine peer into a fresh database of the same engine.
    const consumers = numberOption(args, "peer-consumers", 2, 2);
    const maxBlockSize = numberOption(args, "peer-block", 262_144, 262_144);
    const peerCpu = process.cpuUsage();
    const drained = await drainWithPeer(peerStore, { brokers, topic, consumers, maxBlockSize }, expected, timeoutMs);
    const peerCpuUsPerRow = round(cpuTotalUs(process.cpuUsage(peerCpu)) / Math.max(1, drained.rows), 1);
    const peerRate = rate(drained.rows, drained.total_ms);
    log(`kafka engine peer: ${peerRate} rows/s (${drained.rows}/${expected} rows in ${drained.total_ms} ms)`);
    // 5. Results.
    writeResult({
      scenario: "ceilings",
      quick: args.quick,
      figures: [
        { scenario: "1 ingest", metric: "ceiling (a) raw insert, one stream", value: raw.rate, unit: "rows/s" },
        { scenario: "1 ingest", metric: "ceiling (b) kafkajs consume-and-discard", value: discard.rate, unit: "msg/s" },
        { scenario: "1 ingest", metric: "peer: chDB Kafka engine -> llm_usage", value: peerRate, unit: "rows/s" },
        { scenario: "1 ingest", metric: "ceiling (a) engine CPU per row, all threads", value: raw.cpu_us_per_row, unit: "µs" },
        { scenario: "1 ingest", metric: "peer CPU per row, all threads", value: peerCpuUsPerRow, unit: "µs" },
      ],
      detail: {
        spec,
        partitions,
        topic,
        expected,
        produced,
        discard,
        raw,
        peer: { ...drained, rate: peerRate, consumers, max_block_size: maxBlockSize, cpu_us_per_row: peerCpuUsPerRow },
      },
    });
  } finally {
    await rawStore.close();
    await peerStore.close();
    removeDataDir(dataDir);
    await release();
  }
}

/** kafkajs consumer group from the earliest offset, counting messages and nothing else. */
async function consumeAndDiscard(brokers: string, topic: string, expected: number) {
  // The fetch settings of our consumer's defaults (services/ingest kafka-config.ts), so the
  // ratio isolates what we do with the messages, not how they are fetched.
  const consumer = kafkaClient(brokers, "bench-discard").consumer({
    groupId: `bench-discard-${Date.now()}`,
    maxBytesPerPartition: 4 * 2 ** 20,
    maxBytes: 10 * 2 ** 20,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const started = performance.now();
  let count = 0;
  let firstMs: number | null = null;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consume-and-discard timed out at ${count}/${expected}`)), timeoutMs);
    consumer
      .run({
        partitionsConsumedConcurrently: 2,
        eachBatch: async ({ batch }) => {
          firstMs ??= performance.now() - started;
          count += batch.messages.length;
          if (count >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  const ms = Math.round(performance.now() - started);
  await consumer.disconnect();
  return { messages: count, ms, first_batch_ms: round(firstMs ?? 0, 0), rate: rate(count, ms) };
}

/**
 * Same rows the pipeline stores, in the format it inserts them
 * (TabSeparatedWithNames lines, usageTsvLine), serialized up front as one
 * stream; only the insert is timed.
 */
async function rawInsert(store: ChdbStore, s: EventSetSpec) {
  {
    const now = Date.now();
    const parts: Buffer[] = [Buffer.from(USAGE_TSV_HEADER)];
    let i = 0;
    for (const chunk of eventSet(s)) {
      let text = "";
      for (const e of chunk) text += toTsvLine(e, now, `kafka:bench:0:${i++}`);
      parts.push(Buffer.from(text));
    }
    const payload = Buffer.concat(parts);
    parts.length = 0;
    const started = performance.now();
    const cpu = process.cpuUsage();
    await store.insert("llm_usage", payload, { format: "TabSeparatedWithNames" });
    const ms = Math.round(performance.now() - started);
    const cpuUs = cpuTotalUs(process.cpuUsage(cpu));
    const rows = await countRows(store);
    return { rows, bytes: payload.length, ms, rate: rate(rows, ms), cpu_us_per_row: round(cpuUs / Math.max(1, rows), 1) };
  }
}

/** User + system CPU of this whole process (every thread, chDB's included), in µs. */
function cpuTotalUs(u: NodeJS.CpuUsage): number {
  return u.user + u.system;
}

function log(msg: string) {
  process.stderr.write(`[ceilings] ${msg}\n`);
}

await main();
process.exit(0);
