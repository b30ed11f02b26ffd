/**
 * Scenario 4: freshness, from produce to visible in /v1/analytics/usage, under
 * a steady background load (default 10,000 events/s), on two paths:
 *   http  — the all-in-one (embedded default): POST /v1/events → batching writer → chDB;
 *   kafka — with --brokers: kafkajs produce → topic → the ingest service's
 *           consumer → chDB, with the query API on the same store.
 * A probe is one event for its own org ("bench-fresh") stamped now; the clock
 * runs from just before it is sent until a usage query counts it. Queries vary
 * `end` by a few ms so each one misses the result cache: this measures the
 * pipeline (batching + insert + rollup MVs), not the cache TTL (60 s for
 * hour/day buckets), which a dashboard on default parameters adds on top.
 *
 *   tsx bench/freshness.ts [--quick] [--rate=10000] [--duration-ms=120000] [--brokers=H:P] [--transport=http|kafka] [--log-level=info]
 */
import type { UsageEventInput } from "@tokenmeter/core";
import { CompressionTypes } from "kafkajs";
import { type AppHandle, spawnApp } from "./lib/app.js";
import { benchArgs, numberOption } from "./lib/args.js";
import { liveEvent, templates } from "./lib/events.js";
import { kafkaClient } from "./lib/kafka.js";
import { BodyFactory, type LoadResult, postEvents, type RequestOutcome, steadyLoad } from "./lib/load.js";
import { type Figure, writeResult } from "./lib/results.js";
import { type Distribution, distribution, rate } from "./lib/stats.js";

const args = benchArgs();
const eventsPerSecond = numberOption(args, "rate", 10_000, 10_000);
const eventsPerRequest = numberOption(args, "events-per-request", 200, 200);
const durationMs = numberOption(args, "duration-ms", 120_000, 15_000);
const brokers = args.options.brokers;
const transports = args.options.transport ? [args.options.transport] : brokers ? ["http", "kafka"] : ["http"];
const POLL_MS = 20;
const VISIBLE_TIMEOUT_MS = 15_000;
const pool = templates(20_000);

interface Path {
  app: AppHandle;
  /** One background request/batch of `eventsPerRequest` events (org acme). */
  sendBackground(): Promise<RequestOutcome>;
  /** Sends one probe event for org bench-fresh; resolves when acked. */
  sendProbe(e: UsageEventInput): Promise<unknown>;
  close(): Promise<void>;
}

interface Measured {
  freshness: Distribution;
  missed: number;
  background: LoadResult;
}

const figures: Figure[] = [];
const detail: Record<string, unknown> = {
  events_per_second: eventsPerSecond,
  events_per_request: eventsPerRequest,
  duration_ms: durationMs,
};
for (const transport of transports) {
  const path = transport === "kafka" ? await kafkaPath() : await httpPath();
  try {
    const m = await measure(path);
    const bgRate = rate(m.background.accepted, m.background.elapsed_ms);
    process.stderr.write(`[freshness ${transport}] p50 ${m.freshness.p50} ms p99 ${m.freshness.p99} ms over ${m.freshness.count} probes\n`);
    const s = `4 freshness (${transport})`;
    figures.push(
      { scenario: s, metric: `produce -> visible p50 at ${eventsPerSecond}/s`, value: m.freshness.p50, unit: "ms" },
      { scenario: s, metric: `produce -> visible p99 at ${eventsPerSecond}/s`, value: m.freshness.p99, unit: "ms", target: "<= 2000" },
      { scenario: s, metric: "background events/s sent and acked", value: bgRate, unit: "events/s" },
      {
        scenario: s,
        metric: "probes not visible in 15 s + failed sends",
        value: m.missed + m.background.errors,
        unit: "count",
        target: "0",
      },
      { scenario: s, metric: "background sends skipped: 64 already in flight", value: m.background.skipped, unit: "count" },
    );
    detail[transport] = {
      freshness_ms: m.freshness,
      probes_missed: m.missed,
      background: {
        requests: m.background.requests,
        acked_events: m.background.accepted,
        errors: m.background.errors,
        skipped: m.background.skipped,
        first_error: m.background.first_error,
        send_latency_ms: distribution(m.background.latencies_ms),
      },
    };
  } finally {
    await path.close();
  }
}
writeResult({ scenario: "freshness", quick: args.quick, figures, detail });
process.exit(0);

/** Background load for the whole run; sequential probes from 2 s in until 4 s before the end. */
async function measure(path: Path): Promise<Measured> {
  const load = steadyLoad({ send: path.sendBackground, eventsPerSecond, eventsPerRequest, durationMs, maxInFlight: 64 });
  await sleep(2_000);
  const deadline = performance.now() + durationMs - 6_000;
  const samples: number[] = [];
  let missed = 0;
  for (let k = 1; performance.now() < deadline && k <= 10_000; k++) {
    const ms = await probe(path, k);
    if (ms === null) missed++;
    else samples.push(ms);
    await sleep(100 + Math.random() * 300);
  }
  return { freshness: distribution(samples), missed, background: await load };
}

/** Sends probe number k and polls until the org's usage counts k requests; ms, or null on timeout. */
async function probe(path: Path, k: number): Promise<number | null> {
  const t0 = performance.now();
  const sent = path.sendProbe(liveEvent(pool[k % pool.length]!, Date.now(), { org_id: "bench-fresh" }));
  const start = new Date(Date.now() - 2 * 3_600_000).toISOString();
  const auth = { authorization: `Bearer ${path.app.tokens["bench-fresh"]}` };
  try {
    while (performance.now() - t0 < VISIBLE_TIMEOUT_MS) {
      const end = new Date(Date.now() + 3_600_000).toISOString();
      const res = await fetch(`${path.app.url}/v1/analytics/usage?granularity=hour&start=${start}&end=${end}`, { headers: auth });
      if (res.ok) {
        const body = (await res.json()) as { totals: { requests: number } };
        if (body.totals.requests >= k) return performance.now() - t0;
      }
      await sleep(POLL_MS);
    }
    return null;
  } finally {
    await sent.catch(() => undefined);
  }
}

async function httpPath(): Promise<Path> {
  const app = await spawnApp({ scenario: "freshness", orgs: ["acme", "bench-fresh"] });
  const bodies = new BodyFactory(pool);
  return {
    app,
    sendBackground: () => postEvents(app.url, app.tokens.acme!, bodies.body(eventsPerRequest)),
    sendProbe: (e) => postEvents(app.url, app.tokens["bench-fresh"]!, JSON.stringify([{ ...e, org_id: undefined }])),
    close: () => app.stop(),
  };
}

async function kafkaPath(): Promise<Path> {
  if (!brokers) throw new Error("--brokers is required for the kafka path");
  const topic = `bench.fresh.${Date.now()}`;
  const app = await spawnApp({
    scenario: "freshness-kafka",
    process: "kafka",
    orgs: ["acme", "bench-fresh"],
    extraArgs: [`--brokers=${brokers}`, `--topic=${topic}`, "--partitions=8"],
    ...(args.options["log-level"] ? { logLevel: args.options["log-level"] } : {}),
  });
  const producer = kafkaClient(brokers, "bench-fresh-producer").producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const bodies = new BodyFactory(pool, { keepOrg: true });
  // Background messages go unkeyed (spread round-robin over the 8 partitions); the SDK keys by event_id.
  const send = async (values: string[], key: string | null = null): Promise<RequestOutcome> => {
    const t0 = performance.now();
    try {
      await producer.send({
        topic,
        acks: -1,
        compression: CompressionTypes.None,
        messages: values.map((value) => ({ key, value })),
      });
      return { ok: true, status: 200, ms: performance.now() - t0, accepted: values.length };
    } catch (err) {
      return { ok: false, status: 0, ms: performance.now() - t0, accepted: 0, error: (err as Error).message };
    }
  };
  return {
    app,
    sendBackground: () => send(bodies.items(eventsPerRequest)),
    sendProbe: (e) => send([JSON.stringify(e)], e.event_id),
    async close() {
      await producer.disconnect();
      await app.stop();
    },
  };
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}
