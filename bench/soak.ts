/**
 * Scenario 5: soak. The all-in-one (embedded default) under a steady HTTP
 * ingest load at 50 % of the maximum measured by scenario 2 for 10 minutes:
 * RSS must not grow by more than 10 % after warm-up, and no request may fail.
 *
 *   tsx bench/soak.ts [--quick] [--rate=N] [--duration-ms=600000]
 * Without --rate it reads bench/results/http-ingest.json (run scenario 2 first).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { spawnApp } from "./lib/app.js";
import { benchArgs, numberOption } from "./lib/args.js";
import { templates } from "./lib/events.js";
import { BodyFactory, postEvents, steadyLoad } from "./lib/load.js";
import { type BenchResult, RESULTS_DIR, writeResult } from "./lib/results.js";
import { type RssSample, RssSampler, thin } from "./lib/rss.js";
import { distribution, round } from "./lib/stats.js";

const args = benchArgs();
const maximum = measuredMaximum();
const eventsPerSecond = numberOption(args, "rate", Math.round(maximum / 2), Math.round(maximum / 2));
const eventsPerRequest = numberOption(args, "events-per-request", 1_000, 1_000);
const durationMs = numberOption(args, "duration-ms", 600_000, 20_000);

const app = await spawnApp({ scenario: "soak", orgs: ["acme"] });
const bodies = new BodyFactory(templates(20_000));
try {
  const rss = new RssSampler(durationMs / 120, app.pid).start();
  const send = () => postEvents(app.url, app.tokens.acme!, bodies.body(eventsPerRequest));
  const load = await steadyLoad({ send, eventsPerSecond, eventsPerRequest, durationMs, maxInFlight: 32 });
  const mem = rss.stop();
  const growth = rssGrowthPct(mem.samples);
  const trend = rssTrendPct(mem.samples);
  const achieved = Math.round((load.accepted / load.elapsed_ms) * 1000);
  process.stderr.write(
    `[soak] ${achieved} events/s for ${Math.round(load.elapsed_ms / 1000)} s, RSS trend ${trend} % (tenths ${growth} %), errors ${load.errors}, skipped ${load.skipped}\n`,
  );
  writeResult({
    scenario: "soak",
    quick: args.quick,
    figures: [
      {
        scenario: "5 soak",
        metric: `events/s held for ${durationMs >= 60_000 ? `${Math.round(durationMs / 60_000)} min` : `${Math.round(durationMs / 1000)} s`} (50 % of ${maximum})`,
        value: achieved,
        unit: "events/s",
      },
      { scenario: "5 soak", metric: "RSS trend after warm-up (least squares, over the run)", value: trend, unit: "%", target: "<= 10" },
      { scenario: "5 soak", metric: "RSS last tenth vs second tenth", value: growth, unit: "%" },
      { scenario: "5 soak", metric: "RSS peak", value: mem.peak_mb, unit: "MiB" },
      { scenario: "5 soak", metric: "failed requests (server error or transport)", value: load.errors, unit: "requests", target: "0" },
      { scenario: "5 soak", metric: "sends skipped: 32 requests already in flight", value: load.skipped, unit: "requests" },
    ],
    detail: {
      measured_maximum: maximum,
      events_per_second: eventsPerSecond,
      events_per_request: eventsPerRequest,
      duration_ms: Math.round(load.elapsed_ms),
      requests: load.requests,
      accepted: load.accepted,
      errors: load.errors,
      skipped: load.skipped,
      first_error: load.first_error,
      latency_ms: distribution(load.latencies_ms),
      rss: { ...mem, samples: thin(mem.samples, 120) },
    },
  });
} finally {
  await app.stop();
}
process.exit(0);

/** Scenario 2's events/s, the "measured maximum" of the embedded default. */
function measuredMaximum(): number {
  const path = join(RESULTS_DIR, "http-ingest.json");
  if (!existsSync(path)) return numberOption(args, "maximum", 20_000, 20_000);
  const r = JSON.parse(readFileSync(path, "utf8")) as BenchResult;
  return r.figures.find((f) => f.unit === "events/s")?.value ?? 20_000;
}

/**
 * Growth of the mean RSS over the last tenth of the run against the mean over
 * the second tenth (the first tenth is warm-up: JIT, caches, first merges).
 */
function rssGrowthPct(samples: RssSample[]): number {
  const tenth = Math.max(1, Math.floor(samples.length / 10));
  const mean = (xs: RssSample[]) => xs.reduce((s, x) => s + x.rss_mb, 0) / Math.max(1, xs.length);
  const base = mean(samples.slice(tenth, 2 * tenth));
  const last = mean(samples.slice(-tenth));
  return round(((last - base) / base) * 100, 1);
}

/**
 * Growth the least-squares line through the post-warm-up samples predicts
 * over that period, as % of their mean. RSS swings by ±15 % as chDB caches
 * fill and merges come and go; a trend separates a leak from the swings.
 */
function rssTrendPct(samples: RssSample[]): number {
  const xs = samples.slice(Math.max(1, Math.floor(samples.length / 10)));
  if (xs.length < 3) return 0;
  const n = xs.length;
  const mt = xs.reduce((s, x) => s + x.t_ms, 0) / n;
  const mr = xs.reduce((s, x) => s + x.rss_mb, 0) / n;
  const cov = xs.reduce((s, x) => s + (x.t_ms - mt) * (x.rss_mb - mr), 0);
  const v = xs.reduce((s, x) => s + (x.t_ms - mt) ** 2, 0);
  const slope = v > 0 ? cov / v : 0;
  return round(((slope * (xs[n - 1]!.t_ms - xs[0]!.t_ms)) / mr) * 100, 1);
}
