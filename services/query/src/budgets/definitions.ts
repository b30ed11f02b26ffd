import { randomUUID } from "node:crypto";
import type { Store } from "@tokenmeter/clickhouse";
import { z } from "zod";

/**
 * Versioned definitions (budgets, alert rules) in a ReplacingMergeTree table
 * keyed by (org_id, id): each write is a new row with a higher version, a
 * delete a row with deleted = 1, and reads take the newest with FINAL. Rows are
 * checked with zod on the way in from the store, so a hand-edited or older
 * row is reported, never cast.
 */
export type DefinitionTable = "budgets" | "alert_rules";

const Row = z.object({
  org_id: z.string(),
  id: z.string(),
  definition: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});

export interface Stored<T> {
  org_id: string;
  id: string;
  definition: T;
  created_at: string;
  updated_at: string;
}

let lastVersion = 0;
/** Strictly increasing within a process; microseconds so two processes rarely tie (and a tie keeps either write whole). */
function nextVersion(now: number): number {
  lastVersion = Math.max(lastVersion + 1, now * 1000);
  return lastVersion;
}

const isoOf = (ch: string) => `${ch.replace(" ", "T")}Z`;
const chTime = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");

export class Definitions<T> {
  constructor(
    private readonly store: Store,
    private readonly table: DefinitionTable,
    private readonly schema: z.ZodType<T>,
  ) {}

  /** Live definitions of one org, or of every org (the alert evaluator). */
  async list(org_id?: string): Promise<Stored<T>[]> {
    const where = org_id === undefined ? "" : "AND org_id = {org_id:String}";
    const rows = await this.store.query(
      `SELECT org_id, id, definition, toString(created_at) AS created_at, toString(updated_at) AS updated_at
       FROM ${this.table} FINAL WHERE deleted = 0 ${where} ORDER BY org_id, created_at, id`,
      org_id === undefined ? {} : { org_id },
      { timeoutMs: 5_000 },
    );
    return rows.map((r) => this.parse(r));
  }

  async get(org_id: string, id: string): Promise<Stored<T> | undefined> {
    const rows = await this.store.query(
      `SELECT org_id, id, definition, toString(created_at) AS created_at, toString(updated_at) AS updated_at
       FROM ${this.table} FINAL WHERE org_id = {org_id:String} AND id = {id:String} AND deleted = 0`,
      { org_id, id },
    );
    return rows[0] ? this.parse(rows[0]) : undefined;
  }

  async create(org_id: string, definition: T, now: number): Promise<Stored<T>> {
    const id = randomUUID();
    await this.write(org_id, id, definition, now, now, false);
    return { org_id, id, definition, created_at: new Date(now).toISOString(), updated_at: new Date(now).toISOString() };
  }

  /** Replaces a live definition; undefined when there is none (another org's id included). */
  async update(org_id: string, id: string, definition: T, now: number): Promise<Stored<T> | undefined> {
    const old = await this.get(org_id, id);
    if (!old) return undefined;
    const created = Date.parse(old.created_at);
    await this.write(org_id, id, definition, created, now, false);
    return { org_id, id, definition, created_at: old.created_at, updated_at: new Date(now).toISOString() };
  }

  async remove(org_id: string, id: string, now: number): Promise<boolean> {
    const old = await this.get(org_id, id);
    if (!old) return false;
    await this.write(org_id, id, old.definition, Date.parse(old.created_at), now, true);
    return true;
  }

  private async write(org_id: string, id: string, definition: T, created: number, now: number, deleted: boolean) {
    await this.store.insert(this.table, [
      {
        org_id,
        id,
        version: nextVersion(now),
        deleted: deleted ? 1 : 0,
        definition: JSON.stringify(definition),
        created_at: chTime(created),
        updated_at: chTime(now),
      },
    ]);
  }

  private parse(raw: unknown): Stored<T> {
    const r = Row.parse(raw);
    const definition = this.schema.parse(JSON.parse(r.definition));
    return { org_id: r.org_id, id: r.id, definition, created_at: isoOf(r.created_at), updated_at: isoOf(r.updated_at) };
  }
}
