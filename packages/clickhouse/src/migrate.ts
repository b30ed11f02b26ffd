import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Store } from "./store.js";

/** The repository's `clickhouse/schema` directory. */
export const SCHEMA_DIR = fileURLToPath(new URL("../../../clickhouse/schema", import.meta.url));

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/** Reads `NNNN_name.sql` files in version order, split into statements. */
export function loadMigrations(dir: string = SCHEMA_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ""),
      statements: splitStatements(readFileSync(join(dir, file), "utf8")),
    }));
}

/** Splits a file on `;` at end of line, dropping comment-only chunks. */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s.replace(/--.*$/gm, "").trim().length > 0);
}

const LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version`;

/**
 * Applies pending migrations in order and records each one. Every statement in
 * the schema files is idempotent (IF NOT EXISTS), so two processes migrating at
 * once both succeed and the ledger's ReplacingMergeTree keeps one row per version.
 */
export async function migrate(store: Store, migrations: Migration[] = loadMigrations()): Promise<number[]> {
  await store.command(LEDGER);
  const rows = await store.query<{ version: number }>("SELECT DISTINCT version FROM schema_migrations");
  const done = new Set(rows.map((r) => Number(r.version)));
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    for (const stmt of m.statements) await store.command(stmt);
    await store.insert("schema_migrations", [{ version: m.version, name: m.name }], {
      settings: { insert_deduplication_token: `migration-${m.version}` },
    });
    applied.push(m.version);
  }
  return applied;
}
