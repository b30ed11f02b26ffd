/**
 * Scenario 2: HTTP ingest into the all-in-one on its embedded default (chDB):
 * 16 concurrent clients, each POSTing 1,000-event requests back to back.
 * Reports accepted events/s (acked = inserted and queryable), request latency
 * p50/p99, and the server's RSS. Before that, ack latency at a fixed offered
 * rate (open loop, default 5,000 events/s in 100-event requests): what a
 * caller waits for its 200 when the server is not saturated (group commit).
 *
 *   tsx bench/http-ingest.ts [--quick] [--clients=16] [--duration-ms=60000]
 *                            [--ack-rate=5000] [--ack-events-per-request=100] [--ack-duration-ms=20000]
 *                            [--process=writer --max-delay-ms=N --max-rows=N --idle-ms=N] [--result=name]
 */
import { spawnApp } from "./lib/app.js";
import { benchArgs, numberOption } from "./lib/args.js";
import { templates } from "./lib/events.js";
import { BodyFactory, closedLoop, postEvents, steadyLoad } from "./lib/load.js";
import { writeResult } from "./lib/results.js";
import { RssSampler, thin } from "./lib/rss.js";
import { distribution, rate } from "./lib/stats.js";

const args = benchArgs();
const clients = numberOption(args, "clients", 16, 16);
const eventsPerRequest = numberOption(args, "events-per-request", 1_000, 1_000);
const durationMs = numberOption(args, "duration-ms", 60_000, 10_000);
const warmupMs = numberOption(args, "warmup-ms", 5_000, 2_000);
const ackRate = numberOption(args, "ack-rate", 5_000, 5_000);
const ackEventsPerRequest = numberOption(args, "ack-events-per-request", 100, 100);
const ackDurationMs = numberOption(args, "ack-duration-ms", 20_000, 8_000);

// 1. Server in its own process; realistic bodies prepared up front.
// --process=writer --max-delay-ms=N: the writer alone with another batch policy (see the profile section).
const processKind = args.options.process === "writer" ? "writer" : "app";
const extraArgs = ["max-delay-ms", "max-rows", "idle-ms"].filter((k) => args.options[k]).map((k) => `--${k}=${args.options[k]}`);
const app = await spawnApp({
  scenario: "http",
  orgs: ["acme"],
  process: processKind,
  extraArgs,
  ...(args.options["log-level"] ? { logLevel: args.options["log-level"] } : {}),
});
const bodies = new BodyFactory(templates(20_000));
const token = app.tokens.acme!;
try {
  // 2. Warm-up (JIT, first parts, connection pool), not counted.
  await closedLoop({ url: app.url, token, bodies, clients, eventsPerRequest, durationMs: warmupMs, maxRequests: 1_000 });
  // 3. Ack latency at a fixed offered rate, bounded in time and in outstanding requests.
  const ack = await steadyLoad({
    send: () => postEvents(app.url, token, bodies.body(ackEventsPerRequest)),
    eventsPerSecond: ackRate,
    eventsPerRequest: ackEventsPerRequest,
    durationMs: ackDurationMs,
    maxInFlight: 64,
  });
  const ackLat = distribution(ack.latencies_ms);
  process.stderr.write(
    `[http-ingest] ack at ${ackRate} events/s: p50 ${ackLat.p50} ms, p99 ${ackLat.p99} ms, ` +
      `${rate(ack.accepted, ack.elapsed_ms)} events/s acked, errors ${ack.errors}, skipped ${ack.skipped}\n`,
  );
  // 4. The measured throughput run.
  const rss = new RssSampler(1_000, app.pid).start();
  const load = await closedLoop({ url: app.url, token, bodies, clients, eventsPerRequest, durationMs, maxRequests: 100_000 });
  const mem = rss.stop();
  const eps = rate(load.accepted, load.elapsed_ms);
  const lat = distribution(load.latencies_ms);
  process.stderr.write(`[http-ingest] ${eps} events/s, p50 ${lat.p50} ms, p99 ${lat.p99} ms, errors ${load.errors}\n`);
  writeResult({
    scenario: args.options.result ?? "http-ingest",
    quick: args.quick,
    figures: [
      {
        scenario: "2 http ingest",
        metric: `events/s (${clients} clients x ${eventsPerRequest}-event requests)`,
        value: eps,
        unit: "events/s",
        target: ">= 30000",
      },
      { scenario: "2 http ingest", metric: `ack latency p50 at ${ackRate} events/s`, value: ackLat.p50, unit: "ms", target: "<= 50" },
      { scenario: "2 http ingest", metric: `ack latency p99 at ${ackRate} events/s`, value: ackLat.p99, unit: "ms", target: "<= 250" },
      {
        scenario: "2 http ingest",
        metric: "ack run: failed + skipped (64 in flight) requests",
        value: ack.errors + ack.skipped,
        unit: "requests",
        target: "0",
      },
      { scenario: "2 http ingest", metric: "request latency p50", value: lat.p50, unit: "ms" },
      { scenario: "2 http ingest", metric: "request latency p99", value: lat.p99, unit: "ms" },
      { scenario: "2 http ingest", metric: "failed requests", value: load.errors, unit: "requests", target: "0" },
      { scenario: "2 http ingest", metric: "server RSS peak", value: mem.peak_mb, unit: "MiB" },
    ],
    detail: {
      process: processKind,
      policy_overrides: extraArgs,
      clients,
      events_per_request: eventsPerRequest,
      duration_ms: Math.round(load.elapsed_ms),
      requests: load.requests,
      accepted: load.accepted,
      errors: load.errors,
      first_error: load.first_error,
      latency_ms: lat,
      rss: { ...mem, samples: thin(mem.samples) },
      ack: {
        offered_events_per_second: ackRate,
        events_per_request: ackEventsPerRequest,
        duration_ms: Math.round(ack.elapsed_ms),
        requests: ack.requests,
        accepted: ack.accepted,
        errors: ack.errors,
        skipped: ack.skipped,
        first_error: ack.first_error,
        latency_ms: ackLat,
      },
    },
  });
} finally {
  await app.stop();
}
process.exit(0);
