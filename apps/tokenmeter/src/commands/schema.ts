import { loadMigrations, renderClusterSql } from "@tokenmeter/clickhouse";
import type { Command } from "commander";
import { parseArgs, UsageError, usageExitCodes } from "../jobs/run.js";

/** `tokenmeter schema [--cluster <name>] [--database <db>]`: prints the DDL migrate would apply. */
export function register(program: Command): void {
  usageExitCodes(
    program
      .command("schema")
      .description("print the ClickHouse schema; with --cluster, rendered for a cluster (Replicated + Distributed, ON CLUSTER)")
      .option("--cluster <name>", "cluster name from remote_servers, or '{cluster}' for the macro")
      .option("--database <db>", "database the Distributed tables point into", "tokenmeter"),
  ).action((raw: { cluster?: string; database: string }) => {
    parseArgs("schema", () => {
      if (raw.cluster !== undefined && !/^[A-Za-z0-9_{}.-]+$/.test(raw.cluster))
        throw new UsageError("--cluster must be a cluster name or '{cluster}'");
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(raw.database)) throw new UsageError("--database must be an identifier");
    });
    const sql = raw.cluster ? renderClusterSql({ cluster: raw.cluster, database: raw.database }) : singleNodeSql();
    process.stdout.write(`${sql}\n`);
  });
}

function singleNodeSql(): string {
  return loadMigrations()
    .map((m) => `-- ${m.name}\n${m.statements.map((s) => `${s};`).join("\n\n")}`)
    .join("\n\n");
}
