import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isLostCreateRace } from "./errors.js";
import { monthKey, rebuildRollups } from "./rollups.js";
import type { Store } from "./store.js";

/** The repository's `clickhouse/schema` directory. */
export const SCHEMA_DIR = fileURLToPath(new URL("../../../clickhouse/schema", import.meta.url));

export interface Migration {
  version: number;
  name: string;
  statements: string[];
  /**
   * The file carries `-- @rebuild-rollups`: it changed what the rollups hold
   * (a new dimension or type), so once it is applied migrate() rebuilds every
   * month raw still holds from raw rows (rebuildRollups).
   */
  rebuildRollups?: boolean;
}

const REBUILD_DIRECTIVE = /^--\s*@rebuild-rollups\b/m;

/** Reads `NNNN_name.sql` files in version order, split into statements. */
export function loadMigrations(dir: string = SCHEMA_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const text = readFileSync(join(dir, file), "utf8");
      return {
        version: Number(file.slice(0, 4)),
        name: file.replace(/\.sql$/, ""),
        statements: splitStatements(text),
        ...(REBUILD_DIRECTIVE.test(text) ? { rebuildRollups: true } : {}),
      };
    });
}

/** Splits a file on `;` at end of line, dropping comment-only chunks. */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s.replace(/--.*$/gm, "").trim().length > 0);
}

/**
 * SHA-256 of a migration's SQL without comments and with whitespace collapsed,
 * so rewording a comment is fine but changing what an applied file does is not.
 */
export function migrationChecksum(m: Migration): string {
  const h = createHash("sha256");
  for (const s of m.statements) h.update(s.replace(/--.*$/gm, "").replace(/\s+/g, " ").trim()).update(";");
  return h.digest("hex");
}

/** An applied migration's file changed since it ran: the schema and the files disagree. */
export class MigrationError extends Error {
  override readonly name = "MigrationError";
  constructor(readonly changed: string[]) {
    super(
      `applied migration(s) changed since they ran: ${changed.join(", ")}. ` +
        "Never edit an applied migration; add a new NNNN_name.sql that alters the schema.",
    );
  }
}

// The dedup window lets two processes recording the same version with the same
// token store one row; ReplacingMergeTree and the readers' DISTINCT cover the rest.
// The cluster renders this same statement (cluster.ts renderClusterLedger).
export const LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String DEFAULT '',
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version
SETTINGS non_replicated_deduplication_window = 1000`;

// Ledgers created before checksums were recorded.
const LEDGER_CHECKSUM = "ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum String DEFAULT '' AFTER name";

/**
 * Applies pending migrations in order and records each with its checksum.
 * Safe to run from several processes at once: every schema statement is
 * idempotent (IF NOT EXISTS), a lost race on creating the same object counts
 * as done, and the ledger keeps one row per version. Refuses to run, before
 * applying anything, when an applied migration's file has changed.
 * Returns the versions this call applied.
 */
export async function migrate(store: Store, migrations: Migration[] = loadMigrations()): Promise<number[]> {
  // 1. The ledger itself.
  await idempotent(store, LEDGER);
  await idempotent(store, LEDGER_CHECKSUM);
  // 2. What ran before, and whether its files still say the same.
  const applied = await appliedMigrations(store, migrations);
  // 3. The rest, in order, each recorded once all its statements succeeded
  //    (and, for a file that changed the rollups, once they are rebuilt from raw).
  const done: number[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    for (const stmt of m.statements) await idempotent(store, stmt);
    if (m.rebuildRollups) await rebuildFromRaw(store, m.name);
    const checksum = migrationChecksum(m);
    await store.insert("schema_migrations", [{ version: m.version, name: m.name, checksum }], {
      settings: { insert_deduplication_token: `migration-${m.version}-${checksum}` },
    });
    done.push(m.version);
  }
  return done;
}

/**
 * Rebuilds the rollups of every month raw holds (within raw's retention: older
 * months keep their rollup rows). Nothing to do on an empty store. A month
 * whose rollups still differ from raw fails the migration, so it is retried.
 */
async function rebuildFromRaw(store: Store, migration: string): Promise<void> {
  const [span] = await store.query<{ rows: number; first: string; last: string }>(
    "SELECT count() AS rows, toString(min(event_time)) AS first, toString(max(event_time)) AS last FROM llm_usage",
  );
  if (!span || Number(span.rows) === 0) return;
  const month = (text: string) => monthKey(new Date(`${text.replace(" ", "T")}Z`));
  const results = await rebuildRollups(store, { fromMonth: month(span.first), toMonth: month(span.last) });
  const bad = results.filter((r) => r.status === "mismatch");
  if (bad.length > 0) throw new Error(`${migration}: rollups differ from raw after the rebuild in ${bad.map((r) => r.month).join(", ")}`);
}

/**
 * Runs an IF NOT EXISTS statement. Two processes creating the same table or
 * view at the same moment can both pass the existence check; the loser gets
 * "already exists", which is exactly the state the statement asks for.
 */
async function idempotent(store: Store, sql: string): Promise<void> {
  try {
    await store.command(sql);
  } catch (err) {
    if (!isLostCreateRace(err, sql)) throw err;
  }
}

/**
 * Versions already recorded in the ledger (version → checksum). Throws
 * MigrationError, before anything runs, when an applied file's SQL changed.
 * Shared by the single-node and the cluster runner.
 */
export async function appliedMigrations(store: Store, migrations: readonly Migration[]): Promise<Map<number, string>> {
  const rows = await store.query<{ version: number; checksum: string }>(
    "SELECT version, argMax(checksum, applied_at) AS checksum FROM schema_migrations GROUP BY version",
  );
  const applied = new Map(rows.map((r) => [Number(r.version), r.checksum]));
  const changed = migrations.filter((m) => {
    const recorded = applied.get(m.version);
    return recorded !== undefined && recorded !== "" && recorded !== migrationChecksum(m);
  });
  if (changed.length > 0) throw new MigrationError(changed.map((m) => m.name));
  return applied;
}
