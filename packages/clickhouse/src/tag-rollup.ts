import type { Logger } from "pino";
import { type MonthResult, monthKey, rebuildRollups } from "./rollups.js";
import type { Store } from "./store.js";

/** The rollup of promoted tag keys (clickhouse/schema/0009). */
export const TAG_ROLLUP_TABLE = "llm_usage_tag_hourly";

export interface TagRollupSync {
  /** Keys newly promoted (or whose earlier backfill had not finished). */
  backfilled: string[];
  /** Keys no longer configured: the view stops adding their rows, the planner stops reading them. */
  removed: string[];
  months: MonthResult[];
}

/**
 * Makes the tag rollup hold exactly the configured keys (an idempotent job):
 *
 * 1. keys configured but not yet 'ready' are marked 'pending' (the view adds
 *    their rows from the next insert on), keys no longer configured 'removed';
 * 2. if anything changed, every month raw still holds is rebuilt from raw for
 *    the tag rollup only (rebuildRollups: REPLACE PARTITION, each key's sums
 *    checked against the raw count), so history and the inserts racing the
 *    change are counted once;
 * 3. the pending keys become 'ready': from then on the planner reads them.
 *
 * A run that dies between 1 and 3 leaves keys 'pending'; the next run rebuilds
 * again (a month is always replaced whole). A run with nothing to change
 * touches nothing.
 */
export async function syncTagRollupKeys(
  store: Store,
  keys: readonly string[],
  opts: { logger?: Logger; now?: Date } = {},
): Promise<TagRollupSync> {
  const wanted = new Set(keys);
  const current = await tagRollupStates(store);
  // 1. pending / removed
  const backfilled = [...wanted].filter((k) => current.get(k) !== "ready").sort();
  const removed = [...current].filter(([k, s]) => s !== "removed" && !wanted.has(k)).map(([k]) => k);
  if (backfilled.length === 0 && removed.length === 0) return { backfilled, removed, months: [] };
  // Explicit instants: 'ready' must sort after 'pending' even within one millisecond.
  const pendingAt = Date.now();
  await store.insert("tag_rollup_keys", [
    ...backfilled.map((key) => ({ key, state: "pending", updated_at: chTime(pendingAt) })),
    ...removed.map((key) => ({ key, state: "removed", updated_at: chTime(pendingAt) })),
  ]);
  // 2. rebuild from raw
  const [span] = await store.query<{ rows: number; first: string; last: string }>(
    "SELECT count() AS rows, toString(min(event_time)) AS first, toString(max(event_time)) AS last FROM llm_usage",
  );
  let months: MonthResult[] = [];
  if (span && Number(span.rows) > 0) {
    const month = (t: string) => monthKey(new Date(`${t.replace(" ", "T")}Z`));
    months = await rebuildRollups(store, {
      fromMonth: month(span.first),
      toMonth: month(span.last),
      targets: [TAG_ROLLUP_TABLE],
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    const bad = months.filter((m) => m.status === "mismatch");
    if (bad.length > 0)
      throw new Error(`tag rollup differs from raw after the rebuild in ${bad.map((m) => m.month).join(", ")}; run again`);
  }
  // 3. ready
  const readyAt = chTime(Math.max(Date.now(), pendingAt + 1));
  if (backfilled.length > 0)
    await store.insert(
      "tag_rollup_keys",
      backfilled.map((key) => ({ key, state: "ready", updated_at: readyAt })),
    );
  opts.logger?.info({ op: "tag_rollup_sync", backfilled, removed, months: months.length }, "tag rollup keys synced");
  return { backfilled, removed, months };
}

/** Each key's newest state. */
export async function tagRollupStates(store: Store): Promise<Map<string, string>> {
  const rows = await store.query<{ key: string; state: string }>(
    "SELECT key, argMax(state, updated_at) AS state FROM tag_rollup_keys GROUP BY key",
  );
  return new Map(rows.map((r) => [r.key, r.state]));
}

/** Keys the planner may answer from the tag rollup (backfill finished). */
export async function readyTagRollupKeys(store: Store): Promise<Set<string>> {
  return new Set([...(await tagRollupStates(store))].filter(([, s]) => s === "ready").map(([k]) => k));
}

const chTime = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");
