import { setTimeout as sleep } from "node:timers/promises";
import type { Store } from "@tokenmeter/clickhouse";
import { oldestAcceptedMs } from "@tokenmeter/core";
import type { Logger } from "pino";
import { PriceBook } from "./price-book.js";
import { type RepriceReport, reprice } from "./reprice.js";

/**
 * The second re-price of one price override: the first pass's org, model and
 * event-time range, limited to rows stored since that pass began. It catches
 * the stragglers — events an ingest process priced with the old prices before
 * it reloaded, still in its buffer (batching writer, Kafka batch in flight)
 * when the first pass scanned their day, and inserted afterwards.
 */
export interface StragglerPass {
  org_id: string;
  model: string;
  /** Start of the first pass's event-time range (epoch ms). */
  from_ms: number;
  /** Only rows whose ingested_at (the store's clock) is at or after this (epoch ms). */
  ingested_since_ms: number;
}

/** Where a price override hands its straggler pass (StragglerPasses; tests may pass their own). */
export type StragglerScheduler = Pick<StragglerPasses, "schedule">;

/**
 * Default wait between the first pass and the straggler pass: long enough for
 * every ingest process to hear "pricing updated", reload, and flush what it
 * priced before — a row waits at most the batching delay (500 ms by default,
 * TOKENMETER_BATCH_MAX_DELAY_MS / TOKENMETER_KAFKA_MAX_DELAY_MS) for its
 * insert, and a failing insert is retried for ≈ 8 s at worst (DEFAULT_BATCH_POLICY).
 */
export const DEFAULT_STRAGGLER_DELAY_MS = 10_000;
/** Longest the straggler pass runs (after its wait) before it stops at its next safe point. */
export const STRAGGLER_PASS_TIMEOUT_MS = 600_000;
/**
 * How far before the first pass's start the straggler pass looks: an insert
 * stamps ingested_at when it starts, its rows appear when it commits, so a
 * row the first pass could not see may carry a slightly earlier stamp.
 * Generous, since looking at a row again changes nothing.
 */
export const INSERT_LOOKBACK_MS = 60_000;
/** Passes waiting or running at once; beyond it a new one is dropped (logged), so a burst of overrides cannot pile up work. */
const MAX_PENDING = 100;

/** The store's clock in epoch ms: what ingested_at is stamped with, whatever this process's clock says. */
export async function storeNowMs(store: Store): Promise<number> {
  const [row] = await store.query<{ t: number | string }>("SELECT toUnixTimestamp64Milli(now64(3)) AS t");
  const t = Number(row?.t);
  if (!Number.isFinite(t)) throw new Error("the store did not answer its clock");
  return t;
}

export interface StragglerPassOptions {
  store: Store;
  pass: StragglerPass;
  logger: Logger;
  /** Clock in epoch ms (default Date.now): the end of the range (now + 1 min, as the first pass) and the retention guard. */
  now?: () => number;
  /** Stops the re-price at its next safe point. */
  signal?: AbortSignal;
}

/** Runs one straggler pass now, with prices loaded afresh (the newest, whatever changed since the first pass). */
export async function runStragglerPass(opts: StragglerPassOptions): Promise<RepriceReport> {
  const p = opts.pass;
  const nowMs = (opts.now ?? Date.now)();
  const book = await PriceBook.load(opts.store);
  return await reprice({
    store: opts.store,
    book,
    model: p.model,
    orgId: p.org_id,
    ingestedSince: new Date(p.ingested_since_ms),
    from: new Date(Math.max(p.from_ms, oldestAcceptedMs(nowMs))),
    to: new Date(nowMs + 60_000),
    logger: opts.logger,
    now: () => nowMs,
    signal: opts.signal,
  });
}

export interface StragglerPassesOptions {
  store: Store;
  logger: Logger;
  /** Wait after scheduling before a pass runs (default DEFAULT_STRAGGLER_DELAY_MS). */
  delayMs?: number;
  /** Bound of one pass's run after its wait (default STRAGGLER_PASS_TIMEOUT_MS). */
  timeoutMs?: number;
  now?: () => number;
  /**
   * Whether a waiting pass keeps the process alive (default false: a
   * service's server does, and close() ends the wait). The CLI, which waits
   * for its pass with idle(), sets it.
   */
  keepAlive?: boolean;
  /** Called with each finished pass (tests, metrics). */
  onPass?: (pass: StragglerPass, report: RepriceReport) => void;
}

/**
 * The straggler passes of one process, run in the background: each waits its
 * delay (from when it was scheduled), then they run one at a time, so two
 * overrides never rewrite the same month at once. A pass never throws: a
 * failure is logged with the command that finishes the job. close() stops the
 * waits at once and a running pass at its next safe point.
 */
export class StragglerPasses {
  private readonly stopping = new AbortController();
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly delayMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: StragglerPassesOptions) {
    this.delayMs = opts.delayMs ?? DEFAULT_STRAGGLER_DELAY_MS;
    this.timeoutMs = opts.timeoutMs ?? STRAGGLER_PASS_TIMEOUT_MS;
  }

  /** Schedules a pass; returns at once. */
  schedule(pass: StragglerPass): void {
    const log = this.opts.logger.child({ op: "price_override_stragglers", org_id: pass.org_id, model: pass.model });
    if (this.stopping.signal.aborted) {
      log.warn(hint(pass), "stopping: straggler pass not scheduled");
      return;
    }
    if (this.pending >= MAX_PENDING) {
      log.warn({ ...hint(pass), pending: this.pending }, "too many straggler passes pending: this one is dropped");
      return;
    }
    this.pending++;
    // The wait starts now, not when the previous pass ends: it is this override's own.
    const due = sleep(this.delayMs, undefined, { signal: this.stopping.signal, ref: this.opts.keepAlive === true });
    due.catch(() => {}); // rejected by close() before run() awaits it: handled there
    this.tail = this.tail
      .then(() => this.run(pass, due, log))
      .finally(() => {
        this.pending--;
      });
  }

  /** Resolves once no pass is waiting or running. */
  async idle(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.tail;
      await seen;
    } while (seen !== this.tail);
  }

  /** Ends every wait now, stops a running pass at its next safe point, and resolves when none is left. */
  async close(): Promise<void> {
    this.stopping.abort();
    await this.idle();
  }

  private async run(pass: StragglerPass, due: Promise<void>, log: Logger): Promise<void> {
    const started = Date.now();
    try {
      await due;
      const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.timeoutMs)]);
      const report = await runStragglerPass({ store: this.opts.store, pass, logger: log, now: this.opts.now, signal });
      log.info(
        {
          rows_scanned: report.rows_scanned,
          rows_changed: report.rows_changed,
          months: report.months.map((m) => m.month),
          ms: Date.now() - started,
        },
        "straggler pass done",
      );
      this.opts.onPass?.(pass, report);
    } catch (err) {
      if (this.stopping.signal.aborted) log.warn(hint(pass), "stopping: straggler pass not run or not finished");
      else log.error({ err, ...hint(pass) }, "straggler pass failed");
    }
  }
}

/** What an operator runs to finish a pass that did not run. */
function hint(p: StragglerPass): { remedy: string } {
  return { remedy: `tokenmeter reprice --from ${new Date(p.from_ms).toISOString()} --to <now + 1 min> --model ${p.model}` };
}
