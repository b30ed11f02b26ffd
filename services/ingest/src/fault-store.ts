import { setTimeout as sleep } from "node:timers/promises";
import { type InsertOptions, type QueryParams, type StatementOptions, type Store, StoreError } from "@tokenmeter/clickhouse";

/** TEST ONLY: how often {@link FaultyStore} breaks inserts. Rates are 0-1. */
export interface InsertFaults {
  /** Share of inserts rejected before they run (nothing stored). */
  failRate: number;
  /** Share of inserts that run to the end and then report a timeout (stored, caller unsure). */
  timeoutRate: number;
  /** Random extra delay before an insert, up to this many ms. */
  maxDelayMs: number;
  /**
   * Rows holding this text are refused by the real engine: the marker is
   * rewritten, in the insert's payload, into text the format cannot carry (a
   * lone-surrogate escape in JSON, a stray tab in TSV), so the engine itself
   * answers with a data error for that row and that row only.
   */
  refuseMarker?: string | undefined;
  random?: () => number;
}

/**
 * TEST ONLY: a Store that makes inserts fail or time out at random, for the
 * fault-injection suite (docs/exactly-once.md). Wired by main.ts only when a
 * TOKENMETER_FAULT_* variable is set; queries and commands pass through.
 */
export class FaultyStore implements Store {
  private readonly random: () => number;

  constructor(
    private readonly inner: Store,
    private readonly faults: InsertFaults,
  ) {
    this.random = faults.random ?? Math.random;
  }

  get database(): string {
    return this.inner.database;
  }

  get maxParamBytes(): number | undefined {
    return this.inner.maxParamBytes;
  }

  query<T>(sql: string, params?: QueryParams, opts?: StatementOptions): Promise<T[]> {
    return this.inner.query<T>(sql, params, opts);
  }

  async insert(table: string, rows: readonly object[] | Buffer | string, opts?: InsertOptions): Promise<void> {
    if (this.faults.maxDelayMs > 0) await sleep(this.random() * this.faults.maxDelayMs);
    if (this.random() < this.faults.failRate) throw new StoreError("unavailable", "injected insert failure (test fault)", true);
    await this.inner.insert(table, this.refuseMarked(rows, opts?.format), opts);
    if (this.random() < this.faults.timeoutRate)
      throw new StoreError("timeout", "injected timeout after a stored insert (test fault)", true);
  }

  private refuseMarked(rows: readonly object[] | Buffer | string, format: InsertOptions["format"]): readonly object[] | Buffer | string {
    const marker = this.faults.refuseMarker;
    if (!marker || !(typeof rows === "string" || Buffer.isBuffer(rows))) return rows;
    const text = rows.toString();
    if (!text.includes(marker)) return rows;
    const unparseable = format === "TabSeparatedWithNames" ? "refused\tby-test" : "\\ud800";
    return text.replaceAll(marker, unparseable);
  }

  command(sql: string, params?: QueryParams, opts?: StatementOptions): Promise<void> {
    return this.inner.command(sql, params, opts);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
