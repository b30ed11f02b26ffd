import { monthKey, rebuildRollups } from "@tokenmeter/clickhouse";
import type { Command } from "commander";
import { EXIT, type ExitCode, type JobContext, parseArgs, parseInstant, runJob, UsageError, usageExitCodes } from "../jobs/run.js";

export interface RebuildArgs {
  fromMonth: string;
  toMonth: string;
  force: boolean;
}

/** `tokenmeter rebuild-rollups --from <date> --to <date> [--force]` */
export function register(program: Command): void {
  usageExitCodes(
    program
      .command("rebuild-rollups")
      .description(
        "rebuild every rollup (llm_usage_daily, _hourly, _model_hourly) from raw rows for the months covering [from, to); idempotent",
      )
      .requiredOption("--from <date>", "start, ISO-8601 date or instant (its whole month is rebuilt)")
      .requiredOption("--to <date>", "end, exclusive, ISO-8601 date or instant")
      .option("--force", "also rebuild months older than the raw retention (their raw rows may be partly gone)"),
  ).action(async (raw: { from: string; to: string; force?: boolean }) => {
    const args = parseArgs("rebuild-rollups", () => parseRebuildArgs(raw));
    await runJob("rebuild-rollups", (ctx) => rebuildRollupsJob(ctx, args));
  });
}

/** [from, to) → the months it touches, "YYYY-MM" (UTC). */
export function parseRebuildArgs(raw: { from: string; to: string; force?: boolean }): RebuildArgs {
  const from = parseInstant("--from", raw.from);
  const to = parseInstant("--to", raw.to);
  if (from >= to) throw new UsageError("--from must be before --to");
  return { fromMonth: monthKey(from), toMonth: monthKey(new Date(to.getTime() - 1)), force: raw.force === true };
}

/** Exit 0 when every month's rollups equal raw afterwards (or were skipped on purpose), else 1. */
export async function rebuildRollupsJob({ store, logger, config }: JobContext, args: RebuildArgs): Promise<ExitCode> {
  if (config.TOKENMETER_CLICKHOUSE_CLUSTER) {
    // Views and rollups are per shard there (_local tables); REPLACE PARTITION
    // through a Distributed table is impossible. docs/operations.md has the per-shard procedure.
    logger.error({ op: "rebuild_rollups" }, "not supported through a cluster's Distributed tables; see docs/operations.md");
    return EXIT.failed;
  }
  logger.info({ op: "rebuild_rollups", from_month: args.fromMonth, to_month: args.toMonth, force: args.force }, "rebuilding rollups");
  const results = await rebuildRollups(store, { ...args, logger });
  const failed = results.filter((r) => r.status === "mismatch").map((r) => r.month);
  const skipped = results.filter((r) => r.status === "skipped_expired").map((r) => r.month);
  const rebuilt = results.filter((r) => r.status === "rebuilt").map((r) => r.month);
  logger.info({ op: "rebuild_rollups", rebuilt, skipped, failed }, failed.length ? "some months still differ from raw" : "rollups rebuilt");
  return failed.length ? EXIT.failed : EXIT.ok;
}
