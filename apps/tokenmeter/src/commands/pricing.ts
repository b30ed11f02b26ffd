import { createOutageLog } from "@tokenmeter/core";
import {
  InProcessPricingUpdates,
  latestByModel,
  loadPriceVersions,
  type PricingUpdates,
  pricingChannel,
  RedisPricingUpdates,
} from "@tokenmeter/pricing";
import { loadConfig, PricingWorkerConfig, readEnv, runPricingRefresh, sourceFromSpec } from "@tokenmeter/pricing-refresh";
import type { Command } from "commander";
import { Redis } from "ioredis";
import { EXIT, type ExitCode, type JobContext, runJob, UsageError, usageExitCodes } from "../jobs/run.js";
import { registerPricingSet } from "./pricing-set.js";

export interface RefreshArgs {
  /** A URL, a file path or "bundled"; default TOKENMETER_PRICING_SOURCE. */
  source?: string;
}

/** `tokenmeter pricing refresh [--source <spec>]` and `tokenmeter pricing list [--provider <p>] [--json]` */
export function register(program: Command): void {
  const pricing = program.command("pricing").description("model prices: refresh them from a source now, or list the prices in effect");
  usageExitCodes(
    pricing
      .command("refresh")
      .description("fetch, validate and apply a price document once (what the daily job does); a bad document changes nothing and exits 1")
      .option("--source <spec>", "http(s) URL, file path or 'bundled' (default TOKENMETER_PRICING_SOURCE)"),
  ).action(async (raw: { source?: string }) => {
    await runJob("pricing-refresh", (ctx) => refreshJob(ctx, { source: raw.source }));
  });
  usageExitCodes(
    pricing
      .command("list")
      .description("print the prices in effect now, one model per line (USD per 1M tokens)")
      .option("--provider <name>", "only this provider (LiteLLM's litellm_provider)")
      .option("--json", "print JSON"),
  ).action(async (raw: { provider?: string; json?: boolean }) => {
    await runJob("pricing-list", (ctx) => listJob(ctx, raw));
  });
  registerPricingSet(pricing);
}

/** One refresh against the store; "pricing updated" goes to Redis when configured, so running services reload. */
export async function refreshJob({ store, logger }: JobContext, args: RefreshArgs, env = readEnv()): Promise<ExitCode> {
  const loaded = loadConfig(PricingWorkerConfig, env);
  if (!loaded.ok) throw new UsageError(loaded.errors.join("; "));
  const c = loaded.config;
  const source = sourceFromSpec(args.source ?? c.TOKENMETER_PRICING_SOURCE, {
    timeoutMs: c.TOKENMETER_PRICING_FETCH_TIMEOUT_MS,
    retries: c.TOKENMETER_PRICING_FETCH_RETRIES,
  });
  const redis = c.TOKENMETER_REDIS_URL ? new Redis(c.TOKENMETER_REDIS_URL, { maxRetriesPerRequest: 3 }) : undefined;
  if (redis) createOutageLog(logger, "redis").watch(redis);
  const updates: PricingUpdates = redis
    ? new RedisPricingUpdates({ redis, channel: pricingChannel(c.TOKENMETER_REDIS_PREFIX) })
    : new InProcessPricingUpdates();
  try {
    const result = await runPricingRefresh({
      store,
      source,
      updates,
      logger,
      minModels: c.TOKENMETER_PRICING_MIN_MODELS,
      maxMissingFraction: c.TOKENMETER_PRICING_MAX_MISSING_FRACTION,
    });
    if (!redis && result.added + result.changed > 0) {
      logger.warn(
        { op: "pricing_refresh" },
        "no TOKENMETER_REDIS_URL: running processes pick the new prices up at their next refresh or restart",
      );
    }
    return EXIT.ok;
  } catch {
    // runPricingRefresh logged why; the last good prices are untouched.
    return EXIT.failed;
  } finally {
    redis?.disconnect();
  }
}

export async function listJob(
  { store }: JobContext,
  args: { provider?: string; json?: boolean },
  out: (text: string) => void = (t) => process.stdout.write(t),
): Promise<ExitCode> {
  const latest = [...latestByModel(await loadPriceVersions(store)).values()]
    .filter((v) => !args.provider || v.provider === args.provider)
    .sort((a, b) => a.model.localeCompare(b.model));
  if (args.json) {
    out(`${JSON.stringify(latest, null, 2)}\n`);
    return EXIT.ok;
  }
  const perM = (n: number | null) => (n === null ? "-" : String(Math.round(n * 1e6 * 1e6) / 1e6));
  const rows = latest.map((v) => [
    v.model,
    v.provider,
    perM(v.prices.input),
    perM(v.prices.output),
    perM(v.prices.cache_read),
    perM(v.prices.cache_write),
    perM(v.prices.reasoning),
    v.prices.tiers.map((t) => `>${t.above_input_tokens}`).join(",") || "-",
    v.version,
  ]);
  const head = ["model", "provider", "input/1M", "output/1M", "cache_read/1M", "cache_write/1M", "reasoning/1M", "tiers", "version"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  out(`${[line(head), ...rows.map(line)].join("\n")}\n`);
  return EXIT.ok;
}
