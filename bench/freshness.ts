/**
 * Scenario 4: freshness, from produce to visible in /v1/analytics/usage,
 * while the all-in-one (embedded default) ingests a steady background load.
 * A probe is one event for its own org ("bench-fresh") stamped now; the clock
 * runs from just before its POST until a usage query counts it. Queries vary
 * `end` by a few ms so each one misses the result cache: this measures the
 * pipeline (batch delay + insert + rollup MV), not the cache TTL (60 s for
 * hour/day granularity, which a dashboard on default params adds on top).
 *
 *   tsx bench/freshness.ts [--quick] [--rate=10000] [--duration-ms=120000]
 */
import { spawnApp } from "./lib/app.js";
import { benchArgs, numberOption } from "./lib/args.js";
import { liveEvent, templates } from "./lib/events.js";
import { BodyFactory, postEvents, steadyLoad } from "./lib/load.js";
import { writeResult } from "./lib/results.js";
import { distribution } from "./lib/stats.js";

const args = benchArgs();
const eventsPerSecond = numberOption(args, "rate", 10_000, 10_000);
const eventsPerRequest = numberOption(args, "events-per-request", 200, 200);
const durationMs = numberOption(args, "duration-ms", 120_000, 20_000);
const pollMs = 20;
const visibleTimeoutMs = 15_000;

const app = await spawnApp({ scenario: "freshness", orgs: ["acme", "bench-fresh"] });
const pool = templates(20_000);
const bodies = new BodyFactory(pool);
try {
  // 1. Background load for the whole run; probes start once it is steady.
  const load = steadyLoad({
    url: app.url,
    token: app.tokens.acme!,
    bodies,
    eventsPerSecond,
    eventsPerRequest,
    durationMs,
    maxInFlight: 64,
  });
  await sleep(2_000);
  // 2. Sequential probes until shortly before the load ends.
  const probeDeadline = performance.now() + durationMs - 4_000;
  const freshness: number[] = [];
  let missed = 0;
  for (let k = 1; performance.now() < probeDeadline && k <= 10_000; k++) {
    const ms = await probe(k, pool[k % pool.length]!);
    if (ms === null) missed++;
    else freshness.push(ms);
    await sleep(100 + Math.random() * 300);
  }
  const bg = await load;
  const d = distribution(freshness);
  const bgRate = Math.round((bg.accepted / bg.elapsed_ms) * 1000);
  process.stderr.write(`[freshness] p50 ${d.p50} ms p99 ${d.p99} ms over ${d.count} probes at ${bgRate} events/s\n`);
  writeResult({
    scenario: "freshness",
    quick: args.quick,
    figures: [
      { scenario: "4 freshness", metric: `produce -> visible p50 (at ${eventsPerSecond}/s)`, value: d.p50, unit: "ms" },
      { scenario: "4 freshness", metric: `produce -> visible p99 (at ${eventsPerSecond}/s)`, value: d.p99, unit: "ms", target: "<= 2000" },
      { scenario: "4 freshness", metric: "background events/s achieved", value: bgRate, unit: "events/s" },
      {
        scenario: "4 freshness",
        metric: "probes not visible in 15 s + failed requests",
        value: missed + bg.errors,
        unit: "count",
        target: "0",
      },
    ],
    detail: {
      events_per_second: eventsPerSecond,
      events_per_request: eventsPerRequest,
      duration_ms: Math.round(bg.elapsed_ms),
      freshness_ms: d,
      probes_missed: missed,
      background: {
        requests: bg.requests,
        accepted: bg.accepted,
        errors: bg.errors,
        first_error: bg.first_error,
        latency_ms: distribution(bg.latencies_ms),
      },
      ingest_path: "HTTP POST /v1/events -> batching writer -> chDB (embedded default)",
    },
  });
} finally {
  await app.stop();
}
process.exit(0);

/** Sends probe number k and polls until the org's usage counts k requests; ms, or null on timeout. */
async function probe(k: number, template: (typeof pool)[number]): Promise<number | null> {
  const t0 = performance.now();
  const event = liveEvent(template, Date.now());
  const posted = postEvents(app.url, app.tokens["bench-fresh"]!, JSON.stringify([{ ...event, org_id: undefined }]));
  const start = new Date(Date.now() - 2 * 3_600_000).toISOString();
  while (performance.now() - t0 < visibleTimeoutMs) {
    const end = new Date(Date.now() + 3_600_000).toISOString();
    const res = await fetch(`${app.url}/v1/analytics/usage?granularity=hour&start=${start}&end=${end}`, {
      headers: { authorization: `Bearer ${app.tokens["bench-fresh"]}` },
    });
    if (res.ok) {
      const body = (await res.json()) as { totals: { requests: number } };
      if (body.totals.requests >= k) {
        await posted;
        return performance.now() - t0;
      }
    }
    await sleep(pollMs);
  }
  await posted;
  return null;
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}
