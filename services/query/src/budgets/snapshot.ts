import type { Store } from "@tokenmeter/clickhouse";
import type { Logger } from "pino";
import type { Budget } from "./model.js";
import { type BudgetRepo, toBudget } from "./repo.js";
import { computeSpent, type Spent } from "./spent.js";

export interface SnapshotOptions {
  store: Store;
  repo: BudgetRepo;
  logger: Logger;
  now: () => number;
  /** How often an active org's spent is re-read (default 1 s: the check lags ingestion by about this much). */
  refreshMs?: number;
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
  loading?: Promise<void>;
}

/**
 * The pre-call check's memory: each org's budgets and their spent, refreshed
 * from the store in the background every `refreshMs` while the org is being
 * checked, so a check never waits on the store (only an org's very first one,
 * or the first after a budget changed in this process, loads it).
 */
export class BudgetSnapshot {
  private readonly orgs = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly refreshMs: number;
  private readonly timeoutMs: number;
  private readonly idleMs: number;

  constructor(private readonly opts: SnapshotOptions) {
    this.refreshMs = opts.refreshMs ?? 1_000;
    this.timeoutMs = opts.timeoutMs ?? 2_000;
    this.idleMs = opts.idleMs ?? 600_000;
  }

  /** The org's view; loads it on first use (and starts the refresh loop). */
  async get(org_id: string): Promise<OrgView> {
    let e = this.orgs.get(org_id);
    if (!e) {
      e = { budgets: [], spent: new Map(), usedAt: this.opts.now() };
      this.orgs.set(org_id, e);
      e.loading = this.load(org_id, e);
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

  /** Refreshes every active org once (the loop's step; tests and benchmarks call it). */
  async refreshAll(): Promise<void> {
    const now = this.opts.now();
    for (const [org, e] of this.orgs) {
      if (now - e.usedAt > this.idleMs) this.orgs.delete(org);
      else if (!e.loading) await this.load(org, e);
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

  private async load(org_id: string, e: Entry): Promise<void> {
    try {
      const budgets = (await this.opts.repo.list(org_id)).map(toBudget);
      const now = this.opts.now();
      const spent = new Map<string, Spent>();
      for (const b of budgets) {
        try {
          spent.set(b.id, await computeSpent(this.opts.store, org_id, b, now, this.timeoutMs));
        } catch (err) {
          // Keep the last good figure for this budget; the next refresh tries again.
          const old = e.spent.get(b.id);
          if (old) spent.set(b.id, old);
          this.opts.logger.warn({ err, op: "budget_snapshot", org_id, budget_id: b.id }, "budget spent refresh failed");
        }
      }
      e.budgets = budgets;
      e.spent = spent;
    } catch (err) {
      this.opts.logger.warn({ err, op: "budget_snapshot", org_id }, "budget list refresh failed");
    } finally {
      e.loading = undefined;
    }
  }
}
