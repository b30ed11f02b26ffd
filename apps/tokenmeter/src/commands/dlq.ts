import { readFileSync } from "node:fs";
import { createKafka, type DlqEntry, loadKafkaToolConfig, parseBrokers, readDlq, readEnv, redrive } from "@tokenmeter/ingest";
import type { Command } from "commander";
import { pino } from "pino";

interface CommonOpts {
  brokers?: string;
  topic?: string;
  limit: string;
}

/**
 * `tokenmeter dlq inspect` lists what the consumer refused and why;
 * `tokenmeter dlq redrive` sends chosen entries back to the usage topic after
 * a fix (the consumer's clock, schema or the producer's bytes via --value-file).
 */
export function register(program: Command): void {
  const dlq = program.command("dlq").description("inspect the dead-letter topic and re-drive messages after a fix");
  dlq
    .command("inspect")
    .description("list DLQ entries: position, source partition/offset, kind, reasons (field paths), failed_at, a preview of the bytes")
    .option("--brokers <list>", "bootstrap brokers (default TOKENMETER_KAFKA_BROKERS)")
    .option("--topic <name>", "DLQ topic (default TOKENMETER_KAFKA_DLQ_TOPIC or llm.usage.v1.dlq)")
    .option("--limit <n>", "at most this many entries", "100")
    .option("--kind <kind>", "only entries of this kind: empty, too_large, undecodable, invalid, refused")
    .option("--json", "one JSON object per line, value in base64")
    .action(async (opts: CommonOpts & { kind?: string; json?: boolean }) => {
      const { kafka, config } = connect(opts);
      const entries = filterKind(await readDlq(kafka, config.TOKENMETER_KAFKA_DLQ_TOPIC, { limit: Number(opts.limit) }), opts.kind);
      for (const e of entries) process.stdout.write(`${opts.json ? JSON.stringify(toJson(e)) : describe(e)}\n`);
      process.stderr.write(`${entries.length} entries\n`);
    });
  dlq
    .command("redrive")
    .description("produce DLQ entries again to their source topic (original key; original bytes or --value-file)")
    .option("--brokers <list>", "bootstrap brokers (default TOKENMETER_KAFKA_BROKERS)")
    .option("--topic <name>", "DLQ topic (default TOKENMETER_KAFKA_DLQ_TOPIC or llm.usage.v1.dlq)")
    .option("--limit <n>", "read at most this many DLQ entries", "10000")
    .option("--entry <partition:offset...>", "DLQ positions to re-drive (see inspect)")
    .option("--kind <kind>", "re-drive every entry of this kind")
    .option("--all", "re-drive every entry")
    .option("--to-topic <name>", "produce here instead of each entry's source topic")
    .option("--value-file <path>", "corrected message bytes (one --entry only)")
    .action(async (opts: CommonOpts & { entry?: string[]; kind?: string; all?: boolean; toTopic?: string; valueFile?: string }) => {
      const { kafka, config } = connect(opts);
      if (!opts.all && !opts.kind && !opts.entry?.length) fail("choose what to re-drive: --entry P:O (repeatable), --kind K or --all");
      if (opts.valueFile && opts.entry?.length !== 1) fail("--value-file needs exactly one --entry");
      let entries = filterKind(await readDlq(kafka, config.TOKENMETER_KAFKA_DLQ_TOPIC, { limit: Number(opts.limit) }), opts.kind);
      if (opts.entry?.length) {
        const wanted = new Set(opts.entry);
        entries = entries.filter((e) => wanted.has(`${e.partition}:${e.offset}`));
        if (entries.length !== wanted.size) fail(`found ${entries.length} of ${wanted.size} entries in the DLQ`);
      }
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      try {
        const value = opts.valueFile ? readFileSync(opts.valueFile) : undefined;
        const n = await redrive(producer, entries, {
          ...(opts.toTopic ? { topic: opts.toTopic } : {}),
          ...(value ? { value: () => value } : {}),
        });
        process.stderr.write(`re-drove ${n} entries\n`);
      } finally {
        await producer.disconnect();
      }
    });
}

function connect(opts: { brokers?: string; topic?: string }) {
  const loaded = loadKafkaToolConfig(readEnv(), { TOKENMETER_KAFKA_BROKERS: opts.brokers, TOKENMETER_KAFKA_DLQ_TOPIC: opts.topic });
  if (!loaded.ok) fail(`invalid configuration: ${loaded.errors.join("; ")}`);
  const config = loaded.config;
  const logger = pino({ level: "warn" }, pino.destination(2));
  return {
    config,
    kafka: createKafka({ brokers: parseBrokers(config.TOKENMETER_KAFKA_BROKERS), clientId: config.TOKENMETER_KAFKA_CLIENT_ID, logger }),
  };
}

function filterKind(entries: DlqEntry[], kind: string | undefined): DlqEntry[] {
  return kind ? entries.filter((e) => e.kind === kind) : entries;
}

function toJson(e: DlqEntry) {
  return { ...e, key: e.key?.toString("utf8") ?? null, value: e.value.toString("base64") };
}

function describe(e: DlqEntry): string {
  const src = e.source ? `${e.source.topic}:${e.source.partition}:${e.source.offset}` : "?";
  const reasons = e.errors.map((x) => `${x.path}: ${x.message}`).join("; ");
  const preview = e.value.subarray(0, 80).toString("utf8").replace(/\s+/g, " ");
  return `${e.partition}:${e.offset}  from ${src}  ${e.kind}  ${e.failed_at}  [${reasons}]  ${JSON.stringify(preview)}${e.value.length > 80 ? `… (${e.value.length} bytes)` : ""}`;
}

function fail(message: string): never {
  process.stderr.write(`tokenmeter dlq: ${message}\n`);
  process.exit(2);
}
