import { stopOnSignal } from "@tokenmeter/http";
import { pino } from "pino";
import { loadIngestConfig } from "./config.js";
import { loadKafkaIngestConfig } from "./kafka/config.js";
import { startIngestServer } from "./server.js";

export interface RunIngestOptions {
  env: Record<string, string | undefined>;
  /** Validate the configuration, print the outcome, exit. */
  checkConfig?: boolean;
}

/**
 * The ingest process (main.ts and `tokenmeter ingest`): reads the
 * configuration once, starts the service, and drains on SIGTERM: stop taking
 * requests, finish the range in progress (insert + commit), leave the group,
 * flush, close. Exits the process when done.
 */
export async function runIngest(opts: RunIngestOptions): Promise<void> {
  // 1. Configuration, every problem at once.
  const base = loadIngestConfig(opts.env);
  const kafkaCfg = loadKafkaIngestConfig(opts.env);
  if (!base.ok || !kafkaCfg.ok) {
    const problems = [...(base.ok ? [] : base.errors), ...(kafkaCfg.ok ? [] : kafkaCfg.errors)];
    process.stderr.write(`invalid configuration:\n  ${problems.join("\n  ")}\n`);
    process.exit(2);
  }
  if (opts.checkConfig) {
    // A misspelt setting is silently not applied: the check fails on it.
    if (base.unknown.length > 0) {
      process.stderr.write(`unknown settings:\n  ${base.unknown.join("\n  ")}\n`);
      process.exit(2);
    }
    process.stdout.write("configuration ok\n");
    process.exit(0);
  }
  const logger = pino({ level: base.config.TOKENMETER_LOG_LEVEL, base: { service: "ingest" } });
  for (const u of base.unknown) logger.warn({ op: "config" }, u);

  // 2. Start.
  const service = await startIngestServer(base.config, kafkaCfg.config, logger);
  logger.info({ op: "ready", port: service.port, kafka: service.kafka !== null, pid: process.pid }, "ingest ready");

  // 3. Test-only: SIGUSR2 toggles a second consumer member (join, then leave: two rebalances).
  const ki = service.kafka;
  if (ki && kafkaCfg.config.TOKENMETER_FAULT_EXTRA_MEMBER_SIGNAL) {
    let busy = false;
    process.on("SIGUSR2", () => {
      if (busy) return;
      busy = true;
      const change = ki.members() > 1 ? ki.removeMember() : ki.addMember();
      change
        .then(() => logger.info({ op: "members", members: ki.members() }, "consumer members changed"))
        .catch((err) => logger.error({ op: "members", err }, "member change failed"))
        .finally(() => {
          busy = false;
        });
    });
  }

  // 4. Graceful shutdown, bounded by the drain timeout.
  stopOnSignal(() => service.stop(), { logger, hardStopMs: base.config.TOKENMETER_INGEST_DRAIN_TIMEOUT_MS });
}
