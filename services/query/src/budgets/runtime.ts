import type { Store } from "@tokenmeter/clickhouse";
import type { Logger } from "pino";
import { type BudgetRepo, budgetRepo } from "./repo.js";
import { MemoryReservations, type Reservations } from "./reservations.js";
import { BudgetSnapshot } from "./snapshot.js";

/** What the budget routes share: the repository, the check's snapshot and reservations. */
export interface BudgetRuntime {
  repo: BudgetRepo;
  snapshot: BudgetSnapshot;
  reservations: Reservations;
  stop(): void;
}

export interface BudgetRuntimeOptions {
  store: Store;
  logger: Logger;
  now: () => number;
  /** Default: in memory (one process). Pass RedisReservations to share holds across replicas. */
  reservations?: Reservations;
  refreshMs?: number;
}

export function createBudgetRuntime(opts: BudgetRuntimeOptions): BudgetRuntime {
  const repo = budgetRepo(opts.store);
  const reservations = opts.reservations ?? new MemoryReservations();
  const snapshot = new BudgetSnapshot({
    store: opts.store,
    repo,
    logger: opts.logger,
    now: opts.now,
    reservations,
    ...(opts.refreshMs !== undefined ? { refreshMs: opts.refreshMs } : {}),
  });
  return {
    repo,
    snapshot,
    reservations,
    stop: () => snapshot.stop(),
  };
}
