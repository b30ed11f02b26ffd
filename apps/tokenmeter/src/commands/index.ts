import type { Command } from "commander";
import { register as registerBackfill } from "./backfill.js";
import { register as registerMigrate } from "./migrate.js";
import { register as registerPricing } from "./pricing.js";
import { register as registerRebuildRollups } from "./rebuild-rollups.js";
import { register as registerReprice } from "./reprice.js";
import { register as registerSchema } from "./schema.js";

/** One line per command file; keep alphabetical to avoid merge conflicts. */
export function registerCommands(program: Command): void {
  void program;
  registerBackfill(program);
  registerMigrate(program);
  registerPricing(program);
  registerRebuildRollups(program);
  registerReprice(program);
  registerSchema(program);
}
