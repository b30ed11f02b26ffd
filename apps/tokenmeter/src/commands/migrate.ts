import { loadMigrations, type Migration, migrate, migrateCluster, type Store } from "@tokenmeter/clickhouse";
import type { Command } from "commander";
import { EXIT, type ExitCode, type JobContext, parseArgs, runJob, UsageError, usageExitCodes } from "../jobs/run.js";

export interface MigrateOptions {
  /** Only report: exit 1 while migrations are pending (the init container's wait). */
  check?: boolean;
  /** With check: keep polling this many seconds for the migrate Job to finish. */
  waitSeconds?: number;
  /** Apply the schema rendered for this ClickHouse cluster (name or "{cluster}"). */
  cluster?: string;
  /** Poll interval of --wait, ms. Default 5 000. */
  pollMs?: number;
}

/** `tokenmeter migrate [--check [--wait <s>]] [--cluster <name>]` */
export function register(program: Command): void {
  usageExitCodes(
    program
      .command("migrate")
      .description("apply pending ClickHouse schema migrations (idempotent); --check only reports, exit 1 if any are pending")
      .option("--check", "do not apply; exit 0 when up to date, 1 when migrations are pending")
      .option("--wait <seconds>", "with --check: poll until up to date or this many seconds passed")
      .option("--cluster <name>", "apply the cluster schema (ON CLUSTER, Replicated + Distributed); default TOKENMETER_CLICKHOUSE_CLUSTER"),
  ).action(async (raw: { check?: boolean; wait?: string; cluster?: string }) => {
    const opts = parseArgs("migrate", () => parseMigrateArgs(raw));
    await runJob("migrate", (ctx) => migrateJob(ctx, { ...opts, cluster: opts.cluster ?? ctx.config.TOKENMETER_CLICKHOUSE_CLUSTER }));
  });
}

export function parseMigrateArgs(raw: { check?: boolean; wait?: string; cluster?: string }): MigrateOptions {
  const waitSeconds = raw.wait === undefined ? 0 : Number(raw.wait);
  if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > 86_400) throw new UsageError("--wait must be 0..86400 seconds");
  if (raw.wait !== undefined && !raw.check) throw new UsageError("--wait only goes with --check");
  return { check: raw.check === true, waitSeconds, cluster: raw.cluster };
}

/**
 * Applies (or with `check`, waits for) the schema. Safe to run any number of
 * times and from several pods at once: every statement is IF NOT EXISTS and
 * the ledger keeps one row per version.
 */
export async function migrateJob({ store, logger }: JobContext, opts: MigrateOptions): Promise<ExitCode> {
  // Versions and names are the same either way; only the DDL applied differs.
  const migrations = loadMigrations();
  const mode = opts.cluster ? `cluster ${opts.cluster}` : "single-node";
  if (opts.check) return checkJob(store, logger, migrations, opts);
  const before = await pendingMigrations(store, migrations);
  logger.info({ op: "migrate", mode, pending: before.map((m) => m.name) }, before.length ? "applying migrations" : "schema up to date");
  const applied = opts.cluster ? await migrateCluster(store, { cluster: opts.cluster }, migrations) : await migrate(store, migrations);
  const after = await pendingMigrations(store, migrations);
  if (after.length > 0) {
    logger.error({ op: "migrate", still_pending: after.map((m) => m.name) }, "migrations still pending after migrate");
    return EXIT.failed;
  }
  logger.info({ op: "migrate", mode, applied, latest: migrations.at(-1)?.name ?? null }, `applied ${applied.length} migration(s)`);
  return EXIT.ok;
}

async function checkJob(store: Store, logger: JobContext["logger"], migrations: Migration[], opts: MigrateOptions): Promise<ExitCode> {
  const deadline = Date.now() + (opts.waitSeconds ?? 0) * 1000;
  const pollMs = opts.pollMs ?? 5_000;
  // Bounded by the deadline and by a count, whichever ends first.
  for (let i = 0; i <= 17_280; i++) {
    let pending: Migration[] | null = null;
    try {
      pending = await pendingMigrations(store, migrations);
    } catch (err) {
      logger.warn({ op: "check", err }, "cannot read the migration ledger yet");
    }
    if (pending?.length === 0) {
      logger.info({ op: "check", latest: migrations.at(-1)?.name ?? null }, "schema up to date");
      return EXIT.ok;
    }
    if (Date.now() + pollMs > deadline) {
      logger.error({ op: "check", pending: pending?.map((m) => m.name) ?? "unknown" }, "migrations pending");
      return EXIT.failed;
    }
    logger.info({ op: "check", pending: pending?.map((m) => m.name) ?? "unknown", wait_ms: pollMs }, "waiting for the migrate job");
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return EXIT.failed;
}

/** Migrations whose version the ledger does not hold yet (all of them on an empty database). */
export async function pendingMigrations(store: Store, migrations: Migration[]): Promise<Migration[]> {
  const [ledger] = await store.query<{ n: number }>(
    "SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = 'schema_migrations'",
    { db: store.database },
  );
  if (Number(ledger?.n ?? 0) === 0) return migrations;
  const rows = await store.query<{ version: number }>("SELECT DISTINCT version FROM schema_migrations");
  const done = new Set(rows.map((r) => Number(r.version)));
  return migrations.filter((m) => !done.has(m.version));
}
