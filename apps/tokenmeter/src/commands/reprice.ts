import { createOutageLog } from "@tokenmeter/core";
import { PriceBook, type RepriceProgress, type RepriceReport, reprice } from "@tokenmeter/pricing";
import { enqueueReprice, loadConfig, PricingWorkerConfig, readEnv } from "@tokenmeter/pricing-refresh";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { Redis } from "ioredis";
import { EXIT, type ExitCode, type JobContext, parseArgs, parseInstant, runJob, UsageError, usageExitCodes } from "../jobs/run.js";

export interface RepriceArgs {
  from: Date;
  to: Date;
  model?: string;
  dryRun: boolean;
  json: boolean;
  enqueue: boolean;
}

/** `tokenmeter reprice --from <date> --to <date> [--model <name>] [--dry-run] [--json] [--enqueue]` */
export function register(program: Command): void {
  usageExitCodes(
    program
      .command("reprice")
      .description(
        "recompute computed and unpriced costs of events in [from, to) with the prices in effect at each event, rewrite them and rebuild the affected rollup months; idempotent, prints a per-model before/after report",
      )
      .requiredOption("--from <date>", "events at or after this ISO-8601 date or instant")
      .requiredOption("--to <date>", "events before this ISO-8601 date or instant")
      .option("--model <name>", "only this model (as stored in llm_usage)")
      .option("--dry-run", "report what would change; change nothing")
      .option("--json", "print the report as JSON instead of a table")
      .option("--enqueue", "queue the run for the pricing workers (BullMQ, needs TOKENMETER_REDIS_URL) instead of running it here"),
  ).action(async (raw: { from: string; to: string; model?: string; dryRun?: boolean; json?: boolean; enqueue?: boolean }) => {
    const args = parseArgs("reprice", () => parseRepriceArgs(raw));
    await runJob("reprice", (ctx) => (args.enqueue ? enqueueJob(ctx, args) : repriceJob(ctx, args)));
  });
}

export function parseRepriceArgs(raw: {
  from: string;
  to: string;
  model?: string;
  dryRun?: boolean;
  json?: boolean;
  enqueue?: boolean;
}): RepriceArgs {
  const from = parseInstant("--from", raw.from);
  const to = parseInstant("--to", raw.to);
  if (from >= to) throw new UsageError("--from must be before --to");
  if (raw.model !== undefined && raw.model.trim() === "") throw new UsageError("--model must not be empty");
  if (raw.enqueue && raw.dryRun) throw new UsageError("--dry-run runs here; it does not go with --enqueue");
  return { from, to, model: raw.model, dryRun: raw.dryRun === true, json: raw.json === true, enqueue: raw.enqueue === true };
}

/**
 * Runs the re-pricing here: loads the current prices, re-prices the range
 * with a progress bar on stderr (a TTY) or progress logs, and prints the
 * before/after report on stdout. Exit 1 when a month's rollups still differ from raw.
 */
export async function repriceJob(
  { store, logger, config }: JobContext,
  args: RepriceArgs,
  out: (text: string) => void = (t) => process.stdout.write(t),
): Promise<ExitCode> {
  if (config.TOKENMETER_CLICKHOUSE_CLUSTER && !args.dryRun) {
    // Mutations and REPLACE PARTITION must run per shard on the _local tables, not through Distributed ones.
    logger.error({ op: "reprice" }, "not supported through a cluster's Distributed tables yet; run with --dry-run for the report");
    return EXIT.failed;
  }
  const book = await PriceBook.load(store);
  logger.info({
    op: "reprice",
    from: args.from.toISOString(),
    to: args.to.toISOString(),
    model: args.model,
    dry_run: args.dryRun,
    models_priced: book.size,
  });
  const progress = progressReporter(logger);
  let report: RepriceReport;
  try {
    report = await reprice({
      store,
      book,
      from: args.from,
      to: args.to,
      model: args.model,
      dryRun: args.dryRun,
      logger,
      onProgress: progress.update,
    });
  } finally {
    progress.stop();
  }
  out(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  const failed = report.months.filter((m) => m.status === "mismatch").map((m) => m.month);
  if (failed.length) logger.error({ op: "reprice", failed }, "rollups still differ from raw for some months; re-run");
  return failed.length ? EXIT.failed : EXIT.ok;
}

async function enqueueJob({ logger }: JobContext, args: RepriceArgs): Promise<ExitCode> {
  const loaded = loadConfig(PricingWorkerConfig, readEnv());
  if (!loaded.ok) throw new UsageError(loaded.errors.join("; "));
  const url = loaded.config.TOKENMETER_REDIS_URL;
  if (!url) throw new UsageError("--enqueue needs TOKENMETER_REDIS_URL (the pricing workers' Redis)");
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  createOutageLog(logger, "redis").watch(redis);
  try {
    const id = await enqueueReprice(
      { connection: redis, queueName: loaded.config.TOKENMETER_PRICING_QUEUE },
      { from: args.from.toISOString(), to: args.to.toISOString(), ...(args.model ? { model: args.model } : {}) },
    );
    logger.info({ op: "reprice", job_id: id, queue: loaded.config.TOKENMETER_PRICING_QUEUE }, "re-pricing queued");
    return EXIT.ok;
  } finally {
    redis.disconnect();
  }
}

function progressReporter(logger: JobContext["logger"]) {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: "reprice [{bar}] {percentage}% | day {value}/{total} {day} | rows {rows} changed {changed}", stream: process.stderr },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p: RepriceProgress) {
        if (!started) bar.start(p.days_total, 0, { day: p.day, rows: 0, changed: 0 });
        started = true;
        bar.update(p.days_done, { day: p.day, rows: p.rows_scanned, changed: p.rows_changed });
      },
      stop: () => bar.stop(),
    };
  }
  // Not a terminal (k8s Job logs): a line every 10 % instead of a redrawn bar.
  let lastDecile = -1;
  return {
    update(p: RepriceProgress) {
      const decile = Math.floor((10 * p.days_done) / p.days_total);
      if (decile === lastDecile) return;
      lastDecile = decile;
      logger.info({ op: "reprice_progress", ...p }, `${decile * 10}%`);
    },
    stop() {},
  };
}

/** The before/after table: one line per model, then totals. */
export function formatReport(r: RepriceReport): string {
  const head = [
    "provider",
    "model",
    "requests",
    "changed",
    "old_cost_usd",
    "new_cost_usd",
    "delta_usd",
    "unpriced_before",
    "unpriced_after",
  ];
  const usd = (n: number) => n.toFixed(6);
  const rows = r.models.map((m) => [
    m.provider,
    m.model,
    String(m.requests),
    String(m.changed),
    usd(m.old_cost_usd),
    usd(m.new_cost_usd),
    usd(m.new_cost_usd - m.old_cost_usd),
    String(m.old_unpriced),
    String(m.new_unpriced),
  ]);
  const sum = (f: (m: RepriceReport["models"][number]) => number) => r.models.reduce((s, m) => s + f(m), 0);
  rows.push([
    "TOTAL",
    "",
    String(sum((m) => m.requests)),
    String(r.rows_changed),
    usd(sum((m) => m.old_cost_usd)),
    usd(sum((m) => m.new_cost_usd)),
    usd(sum((m) => m.new_cost_usd - m.old_cost_usd)),
    String(sum((m) => m.old_unpriced)),
    String(sum((m) => m.new_unpriced)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  const months = r.dry_run
    ? "dry run: nothing changed"
    : `months rebuilt: ${r.months.map((m) => `${m.month} (${m.status})`).join(", ") || "none"}`;
  return `${[`reprice ${r.from} .. ${r.to}`, line(head), ...rows.map(line), months].join("\n")}\n`;
}
