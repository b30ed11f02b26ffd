import { createStore, type Store, storeConfigFromEnv } from "@tokenmeter/clickhouse";
import type { Command } from "commander";
import { type Logger, pino } from "pino";
import { dataDirHolder, dataDirInUseMessage } from "../data-dir.js";
import { type JobConfig, loadJobConfig } from "./config.js";

/** Exit codes every job uses, so a k8s Job or a script can tell them apart. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Bad arguments or settings: exit 2, nothing was done. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export interface JobContext {
  store: Store;
  logger: Logger;
  config: JobConfig;
}

/** Commander exits 1 on a parse error; jobs promise 2 for bad usage. */
export function usageExitCodes(cmd: Command): Command {
  return cmd.exitOverride((err) => {
    process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  });
}

/**
 * Wiring for one job run, in steps: 1. config from the environment (bad → 2),
 * 2. JSON logger on stdout, 3. the store, 4. the job, 5. close and exit with
 * its code. Any thrown error is logged with the job's name and exits 1.
 */
export async function runJob(name: string, job: (ctx: JobContext) => Promise<ExitCode>): Promise<never> {
  // 1. config
  const loaded = loadJobConfig();
  if (!loaded.ok) {
    for (const e of loaded.errors) process.stderr.write(`tokenmeter ${name}: ${e}\n`);
    return process.exit(EXIT.usage);
  }
  // A running all-in-one holds the embedded data dir: say so in one line instead of the engine's lock dump.
  const holder = loaded.config.TOKENMETER_CLICKHOUSE_URL ? null : dataDirHolder(loaded.config.TOKENMETER_DATA_DIR);
  if (holder !== null) {
    process.stderr.write(`${dataDirInUseMessage(`tokenmeter ${name}`, loaded.config.TOKENMETER_DATA_DIR, holder)}\n`);
    return process.exit(EXIT.failed);
  }
  // 2. logger
  const logger = pino({
    level: loaded.config.TOKENMETER_LOG_LEVEL,
    base: { job: name },
    formatters: { level: (label) => ({ level: label }) },
  });
  for (const u of loaded.unknown) logger.warn({ op: "config" }, u);
  let code: ExitCode = EXIT.failed;
  let store: Store | undefined;
  try {
    // 3. store
    store = await openJobStore(loaded.config);
    logger.info({ op: "start", storage: loaded.config.TOKENMETER_CLICKHOUSE_URL ? "clickhouse" : "chdb", database: store.database });
    // 4. job
    code = await job({ store, logger, config: loaded.config });
  } catch (err) {
    code = err instanceof UsageError ? EXIT.usage : EXIT.failed;
    logger.error({ op: "failed", err }, err instanceof Error ? err.message : String(err));
  } finally {
    // 5. close
    await store?.close().catch((err: unknown) => logger.warn({ op: "close", err }, "store close failed"));
  }
  logger.info({ op: "exit", code }, code === EXIT.ok ? "done" : "failed");
  return process.exit(code);
}

export function openJobStore(config: JobConfig): Promise<Store> {
  return createStore(storeConfigFromEnv(config));
}

/** Runs the argument checks of a job before anything is opened: a UsageError prints and exits 2. */
export function parseArgs<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`tokenmeter ${name}: ${err.message}\n`);
    return process.exit(EXIT.usage);
  }
}

/** An ISO-8601 date or instant from the command line; bad → UsageError. */
export function parseInstant(flag: string, value: string): Date {
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime())) {
    throw new UsageError(
      `${flag} must be an ISO-8601 date or instant (e.g. 2026-01-01 or 2026-01-01T00:00:00Z), got ${JSON.stringify(value)}`,
    );
  }
  return d;
}
