import type { Store } from "@tokenmeter/clickhouse";
import type { Logger } from "pino";
import { applyDelta, LOOKBACK_MS, MAX_DELTA_ROWS, MAX_SETTLE_KEYS, readArrived, readDelta } from "./delta.js";
import type { Budget } from "./model.js";
import { type BudgetRepo, toBudget } from "./repo.js";
import type { Reservations } from "./reservations.js";
import { computeSpent, type Spent } from "./spent.js";

export interface SnapshotOptions {
  store: Store;
  repo: BudgetRepo;
  logger: Logger;
  now: () => number;
  /** Holds to settle when their call's event is counted (see refreshAll). */
  reservations?: Reservations;
  /** How often an active org's new events are added (default 1 s: the check lags ingestion by about this much). */
  refreshMs?: number;
  /** How often each org's budgets are re-read and recomputed in full (default 30 s). */
  fullRefreshMs?: number;
  /** Bound on each store read of a refresh (default 2 s). */
  timeoutMs?: number;
  /** An org not checked for this long is dropped from memory (default 10 min). */
  idleMs?: number;
}

export interface OrgView {
  budgets: Budget[];
  /** Budget id → what its window held at the last refresh (absent until first read or if it failed). */
  spent: Map<string, Spent>;
}

interface Entry extends OrgView {
  usedAt: number;
  fullAt: number;
  /** How long the last full refresh took: the next one waits at least 10 times that (many budgets, fewer full reads). */
  fullMs: number;
  /** The newest ingested_at (ClickHouse text) seen; the next delta reads from LOOKBACK_MS before it. */
  cursor: string;
  /** Ids counted with ingested_at within LOOKBACK_MS of the cursor (id → ingested_at): a re-read skips them. */
  seen: Map<string, string>;
  loading?: Promise<unknown>;
}

/** What a refresh installed: a full recompute, a delta on top, or nothing (failed). */
type Counted = "full" | "delta" | false;

interface Arrival {
  /** The reservation key as held. */
  key: string;
  /** The event's id as the store prints it (lower case). */
  id: string;
  ingested: string;
}

/** How soon a full refresh is retried when a budget's figure is missing (its read failed). */
const RETRY_MISSING_MS = 5_000;

/** Late events (event_time older than this when stored) wait for the next full refresh. */
const DELTA_RECENT_MS = 3_600_000;

/**
 * The pre-call check's memory: each org's budgets and their spent, so a check
 * never waits on the store (only an org's first check, or the first after a
 * budget changed in this process, loads it). Kept fresh in two ways: every
 * `refreshMs` the events stored since the last read are added to the budgets
 * they fall in (one small read per org, whatever the number of budgets), and
 * every `fullRefreshMs` everything is recomputed through the usage endpoint's
 * code, which also drops events that slid out of rolling windows.
 */
export class BudgetSnapshot {
  private readonly orgs = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly refreshMs: number;
  private readonly fullRefreshMs: number;
  private readonly timeoutMs: number;
  private readonly idleMs: number;

  constructor(private readonly opts: SnapshotOptions) {
    this.refreshMs = opts.refreshMs ?? 1_000;
    this.fullRefreshMs = opts.fullRefreshMs ?? 30_000;
    this.timeoutMs = opts.timeoutMs ?? 2_000;
    this.idleMs = opts.idleMs ?? 600_000;
  }

  /** The org's view; loads it on first use (and starts the refresh loop). */
  async get(org_id: string): Promise<OrgView> {
    let e = this.orgs.get(org_id);
    if (!e) {
      e = {
        budgets: [],
        spent: new Map(),
        usedAt: this.opts.now(),
        fullAt: 0,
        fullMs: 0,
        cursor: "1970-01-01 00:00:00.000",
        seen: new Map(),
      };
      this.orgs.set(org_id, e);
      e.loading = this.full(org_id, e);
    }
    e.usedAt = this.opts.now();
    if (e.loading) await e.loading;
    this.start();
    return e;
  }

  /** A budget of the org changed here: the next check reloads it first. */
  invalidate(org_id: string): void {
    this.orgs.delete(org_id);
  }

  /**
   * Refreshes every active org once (the loop's step; tests and benchmarks call it).
   *
   * Settlement: a reservation whose key is a UUID is dropped once the usage
   * event with that event_id is counted. Order matters so that spent + held
   * never falls below the truth on this replica: (1) find which held keys have
   * arrived (one read per org), (2) read and install the snapshot, which sees
   * every event step 1 saw, (3) only then release those holds. In between the
   * call counts twice (held and spent) — the safe side.
   */
  async refreshAll(): Promise<void> {
    const now = this.opts.now();
    for (const [org, e] of this.orgs) {
      if (now - e.usedAt > this.idleMs) this.orgs.delete(org);
      else if (e.loading) continue;
      else {
        const arrived = await this.arrivals(org);
        let counted: Counted;
        if (now - e.fullAt >= Math.max(this.fullRefreshMs, 10 * e.fullMs)) counted = await this.full(org, e);
        // A budget whose read failed has no figure to add events to: read everything again soon, not in 30 s.
        else if (now - e.fullAt >= RETRY_MISSING_MS && e.budgets.some((b) => !e.spent.has(b.id))) counted = await this.full(org, e);
        else counted = await this.delta(org, e);
        if (arrived.length > 0) await this.settle(org, e, arrived, counted);
      }
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // One refresh at a time: a slow store stretches the lag, never piles up reads.
      this.running ??= this.refreshAll().finally(() => {
        this.running = undefined;
      });
    }, this.refreshMs);
    this.timer.unref();
  }

  /** The org's held UUID keys that arrived as an event's id (key as held, lower-case id, ingested_at). */
  private async arrivals(org_id: string): Promise<Arrival[]> {
    const res = this.opts.reservations;
    if (!res) return [];
    try {
      const keys = await res.pending(org_id, this.opts.now(), MAX_SETTLE_KEYS);
      if (keys.length === 0) return [];
      const byId = new Map(keys.map((k) => [k.toLowerCase(), k]));
      const rows = await readArrived(this.opts.store, org_id, [...byId.keys()], this.opts.now(), DELTA_RECENT_MS, this.timeoutMs);
      return rows.flatMap((r) => {
        const key = byId.get(r.id);
        return key === undefined ? [] : [{ key, id: r.id, ingested: r.ingested }];
      });
    } catch (err) {
      this.opts.logger.warn({ err, op: "budget_settle", org_id }, "reading arrived reservations failed");
      return [];
    }
  }

  /**
   * Releases the holds whose event the installed snapshot counts: after a full
   * read, every event visible before it (all of `arrived`); after a delta, the
   * ids it has counted (in `seen`) or that are older than any re-read (counted
   * by an earlier one). Anything else waits for the next refresh.
   */
  private async settle(org_id: string, e: Entry, arrived: Arrival[], counted: Counted): Promise<void> {
    if (!counted || !this.opts.reservations) return;
    const horizon = rereadHorizon(e.cursor);
    for (const a of arrived) {
      if (counted === "delta" && !e.seen.has(a.id) && a.ingested >= horizon) continue;
      try {
        await this.opts.reservations.release(org_id, a.key);
      } catch (err) {
        this.opts.logger.warn({ err, op: "budget_settle", org_id }, "releasing a settled reservation failed");
      }
    }
  }

  private async delta(org_id: string, e: Entry): Promise<Counted> {
    try {
      const read = await readDelta(this.opts.store, org_id, e.cursor, this.opts.now(), DELTA_RECENT_MS, this.timeoutMs);
      if (read.length > MAX_DELTA_ROWS) return await this.full(org_id, e);
      const rows = read.filter((r) => !e.seen.has(r.event_id));
      if (rows.length === 0) return "delta";
      applyDelta(e.budgets, e.spent, rows);
      for (const r of rows) e.seen.set(r.event_id, r.ingested);
      e.cursor = read[read.length - 1]?.ingested ?? e.cursor;
      // Forget what no re-read can return any more.
      const horizon = rereadHorizon(e.cursor);
      for (const [id, at] of e.seen) if (at < horizon) e.seen.delete(id);
      return "delta";
    } catch (err) {
      this.opts.logger.warn({ err, op: "budget_snapshot", org_id }, "budget delta refresh failed");
      return false;
    }
  }

  /** "full" when every budget's figure was recomputed (a failed one keeps its old figure: false). */
  private async full(org_id: string, e: Entry): Promise<Counted> {
    const started = performance.now();
    try {
      // 1. Before the sums: the cursor, and the recent ids the sums will count. An event stored
      //    between this read and the sums is counted twice until the next full refresh, never missed.
      const [mark] = await this.opts.store.query<{ at: string }>(
        "SELECT toString(now64(3, 'UTC')) AS at",
        {},
        { timeoutMs: this.timeoutMs },
      );
      const cursor = String(mark?.at ?? e.cursor);
      const recent = await readDelta(this.opts.store, org_id, cursor, this.opts.now(), DELTA_RECENT_MS, this.timeoutMs);
      const budgets = (await this.opts.repo.list(org_id)).map(toBudget);
      const now = this.opts.now();
      const spent = new Map<string, Spent>();
      let complete = true;
      for (const b of budgets) {
        try {
          spent.set(b.id, await computeSpent(this.opts.store, org_id, b, now, this.timeoutMs));
        } catch (err) {
          // Keep the last good figure for this budget; the next refresh tries again.
          const old = e.spent.get(b.id);
          if (old) spent.set(b.id, old);
          complete = false;
          this.opts.logger.warn({ err, op: "budget_snapshot", org_id, budget_id: b.id }, "budget spent refresh failed");
        }
      }
      e.budgets = budgets;
      e.spent = spent;
      e.cursor = cursor;
      e.seen = new Map(recent.map((r) => [r.event_id, r.ingested]));
      e.fullAt = this.opts.now();
      e.fullMs = performance.now() - started;
      return complete ? "full" : false;
    } catch (err) {
      this.opts.logger.warn({ err, op: "budget_snapshot", org_id }, "budget list refresh failed");
      return false;
    } finally {
      e.loading = undefined;
    }
  }
}

const chText = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");

/** The oldest ingested_at (ClickHouse text) a delta from `cursor` can read again: LOOKBACK_MS before it. */
const rereadHorizon = (cursor: string) => chText(Date.parse(`${cursor.replace(" ", "T")}Z`) - LOOKBACK_MS);
