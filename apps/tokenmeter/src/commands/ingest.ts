import { readEnv, runIngest } from "@tokenmeter/ingest";
import type { Command } from "commander";

/** `tokenmeter ingest [--check-config]`: the ingest service in the foreground (same as services/ingest/src/main.ts). */
export function register(program: Command): void {
  program
    .command("ingest")
    .description(
      "run the ingest service: POST /v1/events, and with TOKENMETER_KAFKA_BROKERS a consumer-group member on the usage topic (exactly-once effect, DLQ); SIGTERM drains",
    )
    .option("--check-config", "validate the configuration and exit")
    .action(async (opts: { checkConfig?: boolean }) => {
      await runIngest({ env: readEnv(), checkConfig: opts.checkConfig === true });
    });
}
