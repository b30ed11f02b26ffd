import { applyPriceOverride, connectPricingUpdates, StragglerPasses } from "@tokenmeter/pricing";
import type { Command } from "commander";
import { EXIT, type ExitCode, type JobContext, runJob, UsageError, usageExitCodes } from "../jobs/run.js";

export interface SetArgs {
  org: string;
  model: string;
  input: string;
  output: string;
  cacheRead?: string;
  cacheWrite?: string;
  effectiveFrom?: string;
}

/** `tokenmeter pricing set <model> --org <org> --input <usd/token> --output <usd/token> [...]`: an org's price override. */
export function registerPricingSet(pricing: Command): void {
  usageExitCodes(
    pricing
      .command("set <model>")
      .description("price a model for one org (a fine-tune, a self-hosted model) from --effective-from on, then re-price its history")
      .requiredOption("--org <org>", "the org whose events it prices")
      .requiredOption("--input <usd>", "USD per input token, e.g. 3e-7")
      .requiredOption("--output <usd>", "USD per output token")
      .option("--cache-read <usd>", "USD per cached input token (default: the input price)")
      .option("--cache-write <usd>", "USD per cache-write token (default: the input price)")
      .option("--effective-from <iso>", "ISO-8601 instant (default 1970-01-01: the whole history)"),
  ).action(async (model: string, raw: Omit<SetArgs, "model">) => {
    await runJob("pricing-set", (ctx) => setJob(ctx, { ...raw, model }));
  });
}

export async function setJob({ store, logger, config }: JobContext, args: SetArgs, now = Date.now()): Promise<ExitCode> {
  // 1. Validate every value, reporting each problem.
  const usd = (name: string, v: string | undefined): number | null => {
    if (v === undefined) return null;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number >= 0 (USD per token), got ${JSON.stringify(v)}`);
    return n;
  };
  const from = args.effectiveFrom === undefined ? 0 : Date.parse(args.effectiveFrom);
  if (!Number.isFinite(from))
    throw new UsageError(`--effective-from must be an ISO-8601 instant, got ${JSON.stringify(args.effectiveFrom)}`);
  const prices = {
    input: usd("input", args.input) ?? 0,
    output: usd("output", args.output) ?? 0,
    cache_read: usd("cache-read", args.cacheRead),
    cache_write: usd("cache-write", args.cacheWrite),
    reasoning: null,
    tiers: [],
  };
  // 2. Save, 3. re-price the org's stored events of the model (raw retention bounds how far back): the API's path.
  //    With Redis configured (in a pod), running ingest replicas are told on "pricing updated" and reload,
  //    so the straggler pass follows (step 5), waited for here: the job is done when it is.
  const pricing = config.TOKENMETER_REDIS_URL ? connectPricingUpdates(config, logger) : undefined;
  const stragglers = new StragglerPasses({
    store,
    logger,
    now: () => now,
    delayMs: config.TOKENMETER_PRICING_STRAGGLER_DELAY_MS,
    keepAlive: true,
  });
  const report = await applyPriceOverride({
    store,
    override: { org_id: args.org, model: args.model, effective_from_ms: from, prices },
    updates: pricing?.updates,
    logger,
    now: () => now,
    stragglers,
  }).finally(() => pricing?.close());
  logger.info(
    { op: "pricing_set", org: args.org, model: args.model, rows_changed: report.rows_changed },
    "override saved, history re-priced",
  );
  process.stdout.write(
    `${JSON.stringify({ org_id: args.org, model: args.model, effective_from: new Date(from).toISOString(), rows_changed: report.rows_changed })}\n`,
  );
  // 5. The straggler pass (logged; it never throws), then done.
  await stragglers.idle();
  await stragglers.close();
  return EXIT.ok;
}
