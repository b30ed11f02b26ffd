import type { UsageEventInput } from "@tokenmeter/core";
import { issueToken } from "@tokenmeter/http";
import { createKafka, ensureTopics, loadKafkaToolConfig, parseBrokers, readEnv } from "@tokenmeter/ingest";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { pino } from "pino";
import { demoEvents, seededRandom } from "../demo.js";

export interface LoadgenOptions {
  count: number;
  orgs: string[];
  seed: number;
  /** Share of events sent a second time, later (a producer retry after a lost ack). */
  duplicates: number;
  now: () => number;
}

/**
 * Realistic live events in chunks: the demo generator's models, tokens,
 * latencies, errors and agents, re-stamped to "just happened" and spread over
 * the given orgs. Repeats (same event, same event_id) follow their original
 * within the next chunk.
 */
export function* loadgenEvents(opts: LoadgenOptions): Generator<UsageEventInput[]> {
  const rand = seededRandom(opts.seed);
  let left = opts.count;
  let repeats: UsageEventInput[] = [];
  for (let round = 0; left > 0 && round < 50; round++) {
    for (const chunk of demoEvents({ events: Math.max(2_000, left * 1.2), end: opts.now(), days: 1, seed: opts.seed + round })) {
      for (let i = 0; i < chunk.length && left > 0; i += 1_000) {
        const now = opts.now();
        const part = chunk.slice(i, i + Math.min(1_000, left)).map((e) => ({
          ...e,
          org_id: opts.orgs[Math.floor(rand() * opts.orgs.length)] ?? e.org_id,
          event_time: new Date(now - Math.floor(rand() * (e.duration_ms ?? 1_000))).toISOString(),
        }));
        left -= part.length;
        yield [...repeats, ...part];
        repeats = part.filter(() => rand() < opts.duplicates);
      }
      if (left === 0) break;
    }
  }
  if (repeats.length > 0) yield repeats;
}

interface CliOptions {
  count: string;
  rate: string;
  orgs: string;
  to: "kafka" | "http";
  brokers?: string;
  topic?: string;
  partitions: string;
  url: string;
  token?: string;
  jwtSecret?: string;
  duplicates: string;
  seed: string;
}

/** `tokenmeter loadgen --count N --rate N --orgs a,b --to kafka|http`: realistic load with a progress bar. */
export function register(program: Command): void {
  program
    .command("loadgen")
    .description(
      "produce realistic usage events to Kafka (keyed by event_id, acks=all) or HTTP POST /v1/events, paced, with a progress bar",
    )
    .option("--count <n>", "events to send (repeats not counted)", "100000")
    .option("--rate <n>", "events per second; 0 = as fast as the target takes them", "5000")
    .option("--orgs <list>", "org ids to spread events over", "acme,globex,initech")
    .option("--to <target>", "kafka | http", "kafka")
    .option("--brokers <list>", "Kafka bootstrap brokers (default TOKENMETER_KAFKA_BROKERS)")
    .option("--topic <name>", "usage topic (default TOKENMETER_KAFKA_TOPIC or llm.usage.v1)")
    .option("--partitions <n>", "partitions if the topic has to be created", "6")
    .option("--url <url>", "ingest base URL for --to http", "http://127.0.0.1:8081")
    .option("--token <jwt>", "bearer token for --to http (one org)")
    .option("--jwt-secret <secret>", "sign a token per org instead of --token")
    .option("--duplicates <share>", "share of events sent twice (same event_id)", "0")
    .option("--seed <n>", "generator seed", "1")
    .action(async (o: CliOptions) => {
      const count = Number(o.count);
      const rate = Number(o.rate);
      const orgs = o.orgs.split(",").filter(Boolean);
      const events = loadgenEvents({ count, orgs, seed: Number(o.seed), duplicates: Number(o.duplicates), now: Date.now });
      const send = o.to === "http" ? await httpTarget(o, orgs) : await kafkaTarget(o);
      const bar = new cliProgress.SingleBar(
        { format: "loadgen |{bar}| {value}/{total} events  {eps} ev/s  eta {eta}s", stream: process.stderr, etaBuffer: 50 },
        cliProgress.Presets.shades_classic,
      );
      bar.start(count, 0, { eps: 0 });
      const started = performance.now();
      let sent = 0;
      let total = 0;
      try {
        for (const chunk of events) {
          // Pace: never ahead of rate × elapsed.
          if (rate > 0) {
            const due = ((sent + chunk.length) / rate) * 1000 - (performance.now() - started);
            if (due > 0) await new Promise((r) => setTimeout(r, due));
          }
          await send.send(chunk);
          total += chunk.length;
          sent = Math.min(count, sent + chunk.length);
          bar.update(sent, { eps: Math.round(total / ((performance.now() - started) / 1000)) });
        }
      } finally {
        bar.stop();
        await send.close();
      }
      const ms = performance.now() - started;
      process.stdout.write(
        `${JSON.stringify({ events: count, sent: total, repeats: total - count, ms: Math.round(ms), events_per_s: Math.round(total / (ms / 1000)) })}\n`,
      );
    });
}

interface Target {
  send(events: UsageEventInput[]): Promise<void>;
  close(): Promise<void>;
}

async function kafkaTarget(o: CliOptions): Promise<Target> {
  const loaded = loadKafkaToolConfig(readEnv(), { TOKENMETER_KAFKA_BROKERS: o.brokers, TOKENMETER_KAFKA_TOPIC: o.topic });
  if (!loaded.ok) throw new Error(`invalid configuration: ${loaded.errors.join("; ")}`);
  const c = loaded.config;
  const kafka = createKafka({
    brokers: parseBrokers(c.TOKENMETER_KAFKA_BROKERS),
    clientId: "tokenmeter-loadgen",
    logger: pino({ level: "warn" }, pino.destination(2)),
  });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: c.TOKENMETER_KAFKA_TOPIC, numPartitions: Number(o.partitions) }]);
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  return {
    async send(events) {
      await producer.send({
        topic: c.TOKENMETER_KAFKA_TOPIC,
        acks: -1,
        messages: events.map((e) => ({ key: e.event_id, value: JSON.stringify(e) })),
      });
    },
    close: () => producer.disconnect(),
  };
}

async function httpTarget(o: CliOptions, orgs: string[]): Promise<Target> {
  if (!o.token && !o.jwtSecret) throw new Error("--to http needs --token or --jwt-secret");
  const tokens = new Map<string, string>();
  for (const org of orgs) tokens.set(org, o.token ?? (await issueToken(o.jwtSecret!, org, 24 * 3600)));
  const post = async (org: string, events: UsageEventInput[]) => {
    const res = await fetch(new URL("/v1/events", o.url), {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.get(org)}`, "content-type": "application/json" },
      body: JSON.stringify(events),
    });
    if (!res.ok) throw new Error(`POST /v1/events answered ${res.status}: ${await res.text()}`);
  };
  return {
    async send(events) {
      // One request per org: the credential decides the org on HTTP.
      const byOrg = new Map<string, UsageEventInput[]>();
      for (const e of events) byOrg.set(e.org_id ?? "", [...(byOrg.get(e.org_id ?? "") ?? []), e]);
      await Promise.all([...byOrg].map(([org, list]) => post(org, list)));
    },
    close: async () => {},
  };
}
