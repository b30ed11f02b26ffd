import type { Command } from "commander";
import { register as registerBackfill } from "./backfill.js";
import { register as registerMigrate } from "./migrate.js";
import { register as registerRebuildRollups } from "./rebuild-rollups.js";
import { register as registerSchema } from "./schema.js";

/** One line per command file; keep alphabetical to avoid merge conflicts. */
export function registerCommands(program: Command): void {
  void program;
  registerBackfill(program);
  registerMigrate(program);
  registerRebuildRollups(program);
  registerSchema(program);
}
