/**
 * OTLP ingest next to event ingest, on the all-in-one (embedded default, chDB):
 * `clients` concurrent clients POST back to back, first 1,000-event JSON
 * requests to /v1/events, then 1,000-span OTLP protobuf exports (every span a
 * GenAI model call, the same figures) to /v1/traces. Reports events/s and
 * spans/s (acked = durable), request latency, and the server's CPU time per
 * event and per span (utime + stime of all its threads, chDB's included).
 *
 *   tsx bench/otlp.ts [--quick] [--clients=8] [--duration-ms=30000] [--per-request=1000]
 */
import { decodeProtobufResponse } from "@tokenmeter/otlp";
import { spawnApp } from "./lib/app.js";
import { benchArgs, numberOption } from "./lib/args.js";
import { templates } from "./lib/events.js";
import { BodyFactory, closedLoop, type LoadResult } from "./lib/load.js";
import { SpanBodyFactory } from "./lib/otlp-bodies.js";
import { writeResult } from "./lib/results.js";
import { processCpuMs } from "./lib/rss.js";
import { distribution, rate, round } from "./lib/stats.js";

const args = benchArgs();
const clients = numberOption(args, "clients", 8, 4);
const perRequest = numberOption(args, "per-request", 1_000, 1_000);
const durationMs = numberOption(args, "duration-ms", 30_000, 8_000);
const warmupMs = numberOption(args, "warmup-ms", 5_000, 2_000);

/** Closed loop of OTLP exports: each client sends its next body as soon as the previous one is answered. */
async function tracesLoop(url: string, token: string, bodies: SpanBodyFactory, ms: number, maxRequests: number): Promise<LoadResult> {
  const r: LoadResult = { requests: 0, accepted: 0, errors: 0, skipped: 0, latencies_ms: [], elapsed_ms: 0 };
  const started = performance.now();
  const deadline = started + ms;
  const client = async () => {
    while (performance.now() < deadline && r.requests < maxRequests) {
      r.requests++;
      const t0 = performance.now();
      try {
        const res = await fetch(`${url}/v1/traces`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/x-protobuf" },
          body: bodies.body() as BodyInit,
          signal: AbortSignal.timeout(60_000),
        });
        const answer = new Uint8Array(await res.arrayBuffer());
        r.latencies_ms.push(performance.now() - t0);
        const rejected = res.ok ? decodeProtobufResponse(answer).rejectedSpans : perRequest;
        r.accepted += perRequest - rejected;
        if (!res.ok || rejected > 0) {
          r.errors++;
          r.first_error ??= `${res.status} ${rejected} rejected`;
        }
      } catch (err) {
        r.errors++;
        r.first_error ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  r.elapsed_ms = performance.now() - started;
  return r;
}

const app = await spawnApp({ scenario: "otlp", orgs: ["acme"] });
const token = app.tokens.acme!;
const pool = templates(20_000);
const events = new BodyFactory(pool);
const spans = new SpanBodyFactory(pool, perRequest);
try {
  // 1. /v1/events: warm-up, then measured with the server's CPU time.
  await closedLoop({
    url: app.url,
    token,
    bodies: events,
    clients,
    eventsPerRequest: perRequest,
    durationMs: warmupMs,
    maxRequests: 1_000,
  });
  let cpu0 = processCpuMs(app.pid);
  const ev = await closedLoop({
    url: app.url,
    token,
    bodies: events,
    clients,
    eventsPerRequest: perRequest,
    durationMs,
    maxRequests: 100_000,
  });
  const evCpuMs = processCpuMs(app.pid) - cpu0;
  // 2. /v1/traces (protobuf), the same way.
  await tracesLoop(app.url, token, spans, warmupMs, 1_000);
  cpu0 = processCpuMs(app.pid);
  const tr = await tracesLoop(app.url, token, spans, durationMs, 100_000);
  const trCpuMs = processCpuMs(app.pid) - cpu0;

  const eps = rate(ev.accepted, ev.elapsed_ms);
  const sps = rate(tr.accepted, tr.elapsed_ms);
  const evLat = distribution(ev.latencies_ms);
  const trLat = distribution(tr.latencies_ms);
  const usPerEvent = round((evCpuMs * 1000) / Math.max(1, ev.accepted), 1);
  const usPerSpan = round((trCpuMs * 1000) / Math.max(1, tr.accepted), 1);
  process.stderr.write(
    `[otlp] /v1/events ${eps} events/s (${usPerEvent} µs CPU/event, p50 ${evLat.p50} ms); ` +
      `/v1/traces ${sps} spans/s (${usPerSpan} µs CPU/span, p50 ${trLat.p50} ms); errors ${ev.errors}/${tr.errors}\n`,
  );
  const s = "otlp ingest";
  writeResult({
    scenario: args.options.result ?? "otlp",
    quick: args.quick,
    figures: [
      { scenario: s, metric: `/v1/events events/s (${clients} clients x ${perRequest}-event JSON)`, value: eps, unit: "events/s" },
      { scenario: s, metric: `/v1/traces spans/s (${clients} clients x ${perRequest}-span protobuf)`, value: sps, unit: "spans/s" },
      { scenario: s, metric: "server CPU per event (/v1/events)", value: usPerEvent, unit: "µs" },
      { scenario: s, metric: "server CPU per span (/v1/traces)", value: usPerSpan, unit: "µs" },
      { scenario: s, metric: "/v1/traces request latency p50", value: trLat.p50, unit: "ms" },
      { scenario: s, metric: "/v1/traces request latency p99", value: trLat.p99, unit: "ms" },
      { scenario: s, metric: "failed requests", value: ev.errors + tr.errors, unit: "requests", target: "0" },
    ],
    detail: {
      clients,
      per_request: perRequest,
      duration_ms: durationMs,
      protobuf_body_bytes: spans.body().length,
      events: { ...ev, latencies_ms: undefined, latency_ms: evLat, cpu_ms: round(evCpuMs, 0) },
      traces: { ...tr, latencies_ms: undefined, latency_ms: trLat, cpu_ms: round(trCpuMs, 0) },
    },
  });
} finally {
  await app.stop();
}
process.exit(0);
