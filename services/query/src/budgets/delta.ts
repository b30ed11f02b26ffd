import type { Store } from "@tokenmeter/clickhouse";
import { z } from "zod";
import { type CheckInput, inScope } from "./check.js";
import type { Budget } from "./model.js";
import type { Spent } from "./spent.js";
import { roundMetric } from "./window.js";

/** A stored event as the snapshot's delta sees it. */
export interface DeltaRow {
  event_id: string;
  event_ms: number;
  call: CheckInput;
  cost_usd: number;
  total_tokens: number;
  ingested: string;
}

const Row = z.object({
  event_id: z.coerce.string(),
  event_ms: z.coerce.number(),
  project_id: z.string(),
  agent_id: z.string(),
  user_id: z.string(),
  provider: z.string(),
  model: z.string(),
  operation: z.string(),
  tags: z.record(z.string(), z.string()),
  cost_usd: z.coerce.number(),
  total_tokens: z.coerce.number(),
  ingested: z.string(),
});

/** Most rows one delta reads; beyond it the snapshot recomputes in full. */
export const MAX_DELTA_ROWS = 50_000;

/**
 * How far before the cursor a delta reads again: an insert stamps ingested_at
 * when it starts but its rows appear when it commits, so rows can show up
 * "in the past". Ids already counted are skipped by the caller.
 */
export const LOOKBACK_MS = 5_000;

/**
 * Events of an org stored since `cursor` − LOOKBACK_MS (ingested_at, ClickHouse
 * text), with event_time in the last `recentMs` (the table is ordered by
 * event_time, so this bounds the read; a late backfill is counted at the next
 * full refresh).
 */
export async function readDelta(
  store: Store,
  org_id: string,
  cursor: string,
  now: number,
  recentMs: number,
  timeoutMs: number,
): Promise<DeltaRow[]> {
  const rows = await store.query(
    `SELECT toString(event_id) AS event_id, toUnixTimestamp64Milli(event_time) AS event_ms, project_id, agent_id, user_id,
            provider, model, operation, tags, cost_usd, input_tokens + output_tokens AS total_tokens, toString(ingested_at) AS ingested
     FROM llm_usage
     WHERE org_id = {org_id:String} AND event_time >= {from:DateTime64(3, 'UTC')} AND ingested_at >= {cursor:DateTime64(3, 'UTC')} - toIntervalMillisecond({lookback:UInt32})
     ORDER BY ingested_at LIMIT {limit:UInt32}`,
    { org_id, from: new Date(now - recentMs), cursor, lookback: LOOKBACK_MS, limit: MAX_DELTA_ROWS + 1 },
    { timeoutMs },
  );
  return rows.map((raw) => {
    const r = Row.parse(raw);
    const call = CheckCall(r);
    return { event_id: r.event_id, event_ms: r.event_ms, call, cost_usd: r.cost_usd, total_tokens: r.total_tokens, ingested: r.ingested };
  });
}

function CheckCall(r: z.infer<typeof Row>): CheckInput {
  return {
    project_id: r.project_id,
    agent_id: r.agent_id,
    user_id: r.user_id,
    provider: r.provider,
    model: r.model,
    operation: r.operation,
    tags: r.tags,
    estimate: 0,
    ttl_seconds: 60,
  };
}

/** Adds new events to the budgets whose window and scope hold them (pure). */
export function applyDelta(budgets: readonly Budget[], spent: Map<string, Spent>, rows: readonly DeltaRow[]): void {
  for (const b of budgets) {
    const s = spent.get(b.id);
    if (!s) continue;
    for (const r of rows) {
      if (r.event_ms < s.window.start || (s.window.resets_at !== null && r.event_ms >= s.window.end) || !inScope(b, r.call)) continue;
      const amount = b.metric === "cost_usd" ? r.cost_usd : b.metric === "total_tokens" ? r.total_tokens : 1;
      s.total = roundMetric(b.metric, s.total + amount);
      if (b.per) {
        const key = b.per.startsWith("tag.")
          ? (r.call.tags?.[b.per.slice(4)] ?? "")
          : String((r.call as Record<string, unknown>)[b.per] ?? "");
        s.groups.set(key, roundMetric(b.metric, (s.groups.get(key) ?? 0) + amount));
      }
    }
  }
}

/** Most held keys one refresh looks up (the rest wait for the next refresh, or their TTL). */
export const MAX_SETTLE_KEYS = 1_000;

const Arrived = z.object({ id: z.string(), ingested: z.string() });

/**
 * Which of these reservation keys (UUIDs) have arrived as an event's id: one
 * parameterized read for all of them, bounded like the delta to events of the
 * last `recentMs` (the primary key narrows to the org's recent slice, the
 * event_id bloom filter to its granules). Ids come back in lower case.
 */
export async function readArrived(
  store: Store,
  org_id: string,
  ids: readonly string[],
  now: number,
  recentMs: number,
  timeoutMs: number,
): Promise<{ id: string; ingested: string }[]> {
  if (ids.length === 0) return [];
  const rows = await store.query(
    // (`id`, not `event_id`: ClickHouse would read the alias in WHERE and compare text with UUIDs.)
    `SELECT toString(event_id) AS id, toString(min(ingested_at)) AS ingested
     FROM llm_usage
     WHERE org_id = {org_id:String} AND event_time >= {from:DateTime64(3, 'UTC')} AND event_id IN {ids:Array(UUID)}
     GROUP BY event_id`,
    { org_id, from: new Date(now - recentMs), ids: ids.slice(0, MAX_SETTLE_KEYS) },
    { timeoutMs },
  );
  return rows.map((r) => Arrived.parse(r));
}
