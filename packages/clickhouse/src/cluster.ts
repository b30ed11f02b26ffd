import { appliedMigrations, LEDGER, loadMigrations, type Migration, migrationChecksum } from "./migrate.js";
import type { Store } from "./store.js";

/**
 * Renders the single-node schema (clickhouse/schema/*.sql) for a ClickHouse
 * cluster, so there is one hand-kept schema and the cluster DDL is derived:
 *
 * - every MergeTree-family table `t` becomes `t_local` with the Replicated
 *   engine (`{shard}`/`{replica}` macros) plus a Distributed `t` over it, so
 *   readers and writers keep using the single-node names;
 * - materialized views read the local raw table and write the local rollup,
 *   so each shard aggregates its own rows and a Distributed read sums them;
 * - `non_replicated_deduplication_window` becomes
 *   `replicated_deduplication_window` (+ a seconds window), which keeps the
 *   insert_deduplication_token exactly-once design working on replicas;
 * - every statement runs ON CLUSTER.
 *
 * Writes through a Distributed table must reach the shards before the INSERT
 * returns (`distributed_foreground_insert = 1`; deploy/k8s's cluster overlay
 * sets it in the server's default profile), or "inserted" would only mean
 * "queued on the node that received it".
 *
 * A statement the renderer does not understand throws instead of being
 * passed through, so a new migration cannot silently render wrong.
 */
export interface ClusterOptions {
  /** Cluster name in remote_servers, or the `{cluster}` macro. Default "{cluster}". */
  cluster?: string;
  /** Database the Distributed tables point into. Default "tokenmeter". */
  database?: string;
  /** Keeper path of each replicated table. Default "/clickhouse/tables/{shard}/{database}/{table}". */
  zooPath?: string;
  /**
   * How long block hashes stay in Keeper. ClickHouse's default is 1 hour;
   * a day covers a retried or re-sent batch as long as the Redis seen-set does.
   */
  dedupWindowSeconds?: number;
  /** Sharding key per table; default `cityHash64(<ORDER BY columns>)` (deterministic, see below). */
  shardingKeys?: Record<string, string>;
}

/** Suffix of the shard-local tables behind each Distributed table. */
export const LOCAL_SUFFIX = "_local";

interface Context {
  cluster: string;
  database: string;
  zooPath: string;
  dedupWindowSeconds: number;
  shardingKeys: Record<string, string>;
  /** Tables already rendered as `_local` + Distributed. */
  sharded: Set<string>;
}

/** Renders migrations (default: the repository's schema files) for a cluster. */
export function renderClusterMigrations(opts: ClusterOptions = {}, migrations: Migration[] = loadMigrations()): Migration[] {
  const ctx: Context = {
    cluster: opts.cluster ?? "{cluster}",
    database: opts.database ?? "tokenmeter",
    zooPath: opts.zooPath ?? "/clickhouse/tables/{shard}/{database}/{table}",
    dedupWindowSeconds: opts.dedupWindowSeconds ?? 86_400,
    shardingKeys: opts.shardingKeys ?? {},
    sharded: new Set(),
  };
  if (!/^[A-Za-z0-9_{}.-]+$/.test(ctx.cluster)) throw new Error(`invalid cluster name ${JSON.stringify(ctx.cluster)}`);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(ctx.database)) throw new Error(`invalid database name ${JSON.stringify(ctx.database)}`);
  return migrations.map((m) => ({
    ...m,
    statements: m.statements.flatMap((s) => renderStatement(stripComments(s), ctx, m.name)),
  }));
}

/** The whole cluster schema as one SQL script (what `tokenmeter schema --cluster` prints). */
export function renderClusterSql(opts: ClusterOptions = {}, migrations: Migration[] = loadMigrations()): string {
  return renderClusterMigrations(opts, migrations)
    .map((m) => `-- ${m.name}\n${m.statements.map((s) => `${s};`).join("\n\n")}`)
    .join("\n\n");
}

/**
 * DDL of the cluster's migration ledger: migrate()'s own table, rendered like
 * any other as a replicated `_local` plus a Distributed `schema_migrations`,
 * so every node reads the same ledger whichever node a client reaches.
 */
export function renderClusterLedger(opts: ClusterOptions = {}): string[] {
  return renderClusterMigrations(opts, [{ version: 0, name: "schema_migrations", statements: [LEDGER] }])[0]?.statements ?? [];
}

/**
 * migrate() for a cluster: applies the rendered DDL of each pending migration
 * and records it in the cluster ledger with the checksum of its *source* file.
 * So the ledger reads the same as on a single node, and a service that runs
 * the single-node migrate() at start finds everything applied and does nothing.
 * Every statement is ON CLUSTER and IF NOT EXISTS: re-running is harmless.
 */
export async function migrateCluster(
  store: Store,
  opts: ClusterOptions = {},
  migrations: Migration[] = loadMigrations(),
): Promise<number[]> {
  const o = { ...opts, database: opts.database ?? store.database };
  const rendered = renderClusterMigrations(o, migrations);
  // 1. The ledger, on every node.
  for (const stmt of renderClusterLedger(o)) await store.command(stmt);
  // 2. What ran before, and whether its files still say the same.
  const applied = await appliedMigrations(store, migrations);
  // 3. The rest, in order, each recorded once all its statements succeeded.
  const done: number[] = [];
  for (const [i, m] of migrations.entries()) {
    if (applied.has(m.version)) continue;
    for (const stmt of rendered[i]?.statements ?? []) await store.command(stmt);
    const checksum = migrationChecksum(m);
    await store.insert("schema_migrations", [{ version: m.version, name: m.name, checksum }], {
      settings: { insert_deduplication_token: `migration-${m.version}-${checksum}` },
    });
    done.push(m.version);
  }
  return done;
}

function renderStatement(sql: string, ctx: Context, file: string): string[] {
  const head = sql.replace(/\s+/g, " ").slice(0, 80);
  if (/^CREATE TABLE/i.test(sql)) return renderTable(sql, ctx, file);
  if (/^CREATE MATERIALIZED VIEW/i.test(sql)) return [renderMaterializedView(sql, ctx, file)];
  if (/^CREATE VIEW/i.test(sql)) return [addOnCluster(sql, /^(CREATE VIEW (?:IF NOT EXISTS )?\w+)/i, ctx)];
  if (/^ALTER TABLE/i.test(sql)) return renderAlter(sql, ctx, file);
  if (/^DROP (TABLE|VIEW)/i.test(sql)) return renderDrop(sql, ctx);
  // Rows inserted by a migration go through the Distributed table like any write.
  if (/^INSERT INTO/i.test(sql)) return [sql];
  throw new Error(`${file}: cannot render for a cluster: ${head}`);
}

const TABLE_RE = /^CREATE TABLE (IF NOT EXISTS )?(\w+)\s*\(([\s\S]*)\)\s*ENGINE\s*=\s*(\w*)MergeTree\b(\s*\(([^)]*)\))?([\s\S]*)$/i;

function renderTable(sql: string, ctx: Context, file: string): string[] {
  const m = TABLE_RE.exec(sql);
  if (!m) throw new Error(`${file}: only MergeTree-family tables render for a cluster: ${sql.slice(0, 80)}`);
  const [, ifNotExists = "", name = "", body = "", family = "", , engineArgs = "", tail = ""] = m;
  const local = `${name}${LOCAL_SUFFIX}`;
  const replicatedArgs = [`'${ctx.zooPath}'`, "'{replica}'", ...(engineArgs.trim() ? [engineArgs.trim()] : [])].join(", ");
  const localSql =
    `CREATE TABLE ${ifNotExists}${local} ON CLUSTER '${ctx.cluster}'\n(${body})\n` +
    `ENGINE = Replicated${family}MergeTree(${replicatedArgs})${renderSettings(tail, ctx)}`;
  // Columns only: a Distributed table stores nothing, so no indexes or projections.
  const columns = splitTopLevel(body)
    .map((c) => c.trim())
    .filter((c) => c && !/^(INDEX|PROJECTION|CONSTRAINT)\s/i.test(c));
  const key = ctx.shardingKeys[name] ?? `cityHash64(${orderByColumns(tail, name)})`;
  const distributedSql =
    `CREATE TABLE ${ifNotExists}${name} ON CLUSTER '${ctx.cluster}'\n(\n    ${columns.join(",\n    ")}\n)\n` +
    `ENGINE = Distributed('${ctx.cluster}', '${ctx.database}', '${local}', ${key})`;
  ctx.sharded.add(name);
  return [localSql, distributedSql];
}

/**
 * The ORDER BY columns as the default sharding key: deterministic, so a retried
 * batch splits across shards exactly as the first attempt did and each shard
 * deduplicates its part by the same token (rand() would break exactly-once).
 */
function orderByColumns(tail: string, table: string): string {
  const at = /\bORDER BY\s*/i.exec(tail);
  if (!at) throw new Error(`${table}: no ORDER BY to derive a sharding key from`);
  const rest = tail.slice(at.index + at[0].length);
  if (rest.startsWith("(")) return readBalanced(rest).slice(1, -1).trim();
  return (/^[\w.]+(\([^)]*\))?/.exec(rest)?.[0] ?? "").trim();
}

function renderSettings(tail: string, ctx: Context): string {
  return tail.replace(
    /\bnon_replicated_deduplication_window\s*=\s*(\d+)/i,
    (_, n: string) => `replicated_deduplication_window = ${n}, replicated_deduplication_window_seconds = ${ctx.dedupWindowSeconds}`,
  );
}

const MV_RE = /^CREATE MATERIALIZED VIEW (IF NOT EXISTS )?(\w+)\s+TO\s+(\w+)\s+AS\s+([\s\S]*)$/i;

/**
 * Each shard's view reads the shard's raw rows and writes the shard's rollup.
 * Only the FROM source becomes local; a JOINed table keeps its Distributed
 * name, because a dimension (e.g. pricing) must be read whole, not per shard.
 */
function renderMaterializedView(sql: string, ctx: Context, file: string): string {
  const m = MV_RE.exec(sql);
  if (!m) throw new Error(`${file}: only materialized views with TO <table> render for a cluster: ${sql.slice(0, 80)}`);
  const [, ifNotExists = "", name = "", target = "", select = ""] = m;
  const localSelect = select.replace(/\bFROM\s+(\w+)\b/gi, (all, t: string) => (ctx.sharded.has(t) ? `FROM ${t}${LOCAL_SUFFIX}` : all));
  return `CREATE MATERIALIZED VIEW ${ifNotExists}${name} ON CLUSTER '${ctx.cluster}' TO ${localName(target, ctx)}\nAS ${localSelect}`;
}

const COLUMN_ALTER_RE = /^\s*(ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN\b/i;

/** Column changes apply to both tables; everything else (TTL, settings, indexes) to the storage only. */
function renderAlter(sql: string, ctx: Context, file: string): string[] {
  const m = /^ALTER TABLE (\w+)\s+([\s\S]*)$/i.exec(sql);
  if (!m) throw new Error(`${file}: cannot render ALTER for a cluster: ${sql.slice(0, 80)}`);
  const [, table = "", action = ""] = m;
  const onCluster = `ON CLUSTER '${ctx.cluster}'`;
  if (!ctx.sharded.has(table)) return [`ALTER TABLE ${table} ${onCluster} ${action}`];
  const out = [`ALTER TABLE ${table}${LOCAL_SUFFIX} ${onCluster} ${action}`];
  // The Distributed table takes the column changes of a mixed ALTER (ADD COLUMN + MODIFY ORDER BY) too.
  const columnActions = splitTopLevel(action).filter((a) => COLUMN_ALTER_RE.test(a));
  if (columnActions.length > 0) out.push(`ALTER TABLE ${table} ${onCluster} ${columnActions.join(", ")}`);
  return out;
}

function renderDrop(sql: string, ctx: Context): string[] {
  const m = /^DROP (TABLE|VIEW) (IF EXISTS )?(\w+)(.*)$/is.exec(sql);
  if (!m) return [addOnCluster(sql, /^(DROP \w+ (?:IF EXISTS )?\w+)/i, ctx)];
  const [, kind = "", ifExists = "", name = "", rest = ""] = m;
  const names = ctx.sharded.has(name) ? [name, `${name}${LOCAL_SUFFIX}`] : [name];
  return names.map((n) => `DROP ${kind} ${ifExists}${n} ON CLUSTER '${ctx.cluster}'${rest}`);
}

function localName(table: string, ctx: Context): string {
  return ctx.sharded.has(table) ? `${table}${LOCAL_SUFFIX}` : table;
}

function addOnCluster(sql: string, head: RegExp, ctx: Context): string {
  return sql.replace(head, (h) => `${h} ON CLUSTER '${ctx.cluster}'`);
}

function stripComments(sql: string): string {
  return sql
    .split("\n")
    .filter((l) => !/^\s*--/.test(l))
    .join("\n")
    .trim();
}

/** The parenthesized prefix of `s` (which starts with "("), nesting respected. */
function readBalanced(s: string): string {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "(") depth++;
    else if (s[i] === ")" && --depth === 0) return s.slice(0, i + 1);
  }
  throw new Error(`unbalanced parentheses in ${s.slice(0, 60)}`);
}

/** Splits on commas outside parentheses and quotes (column lists, ALTER actions). */
export function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (quote) {
      if (ch === "\\") i++;
      else if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"' || ch === "`") quote = ch;
    else if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (ch === "," && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}
