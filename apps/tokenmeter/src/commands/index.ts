import type { Command } from "commander";
import { register as registerBackfill } from "./backfill.js";
import { register as registerDlq } from "./dlq.js";
import { register as registerIngest } from "./ingest.js";
import { register as registerLoadgen } from "./loadgen.js";
import { register as registerMigrate } from "./migrate.js";
import { register as registerPricing } from "./pricing.js";
import { register as registerRebuildRollups } from "./rebuild-rollups.js";
import { register as registerReprice } from "./reprice.js";
import { register as registerSchema } from "./schema.js";
import { register as registerToken } from "./token.js";

/** One line per command file; keep alphabetical to avoid merge conflicts. */
export function registerCommands(program: Command): void {
  void program;
  registerBackfill(program);
  registerDlq(program);
  registerIngest(program);
  registerLoadgen(program);
  registerMigrate(program);
  registerPricing(program);
  registerRebuildRollups(program);
  registerReprice(program);
  registerSchema(program);
  registerToken(program);
}
