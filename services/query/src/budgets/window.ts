import { bucketStart, nextBucket } from "../buckets.js";
import { usd } from "../endpoint.js";
import type { BudgetMetric, BudgetWindow } from "./model.js";

const HOUR_MS = 3_600_000;

/** The window a budget is in at `now`: [start, end), and when it resets (null: rolling, it never does). */
export interface WindowSpan {
  start: number;
  end: number;
  resets_at: number | null;
}

/**
 * The window containing `now`. Calendar windows come from the window itself
 * (the query service's DST-correct bucket code: day at local midnight, ISO week
 * on Monday, month on the 1st), never from "last reset + N", so a late
 * evaluation cannot shift one. A rolling window is [now − N h, now), not snapped.
 */
export function windowAt(w: BudgetWindow, now: number): WindowSpan {
  if ("rolling_hours" in w) return { start: now - w.rolling_hours * HOUR_MS, end: now, resets_at: null };
  const start = bucketStart(w.period, w.tz, now);
  const end = nextBucket(w.period, w.tz, start);
  return { start, end, resets_at: end };
}

/** A metric's figure as the analytics answer it: cost in USD to 6 decimals, counts whole. */
export function roundMetric(metric: BudgetMetric, x: number): number {
  return metric === "cost_usd" ? usd(x) : Math.round(x);
}

/**
 * Projected spend at the window's end from the burn rate so far. A rolling
 * window is always full, so its projection is what it holds now.
 */
export function forecast(metric: BudgetMetric, spent: number, span: WindowSpan, now: number, rolling: boolean): number {
  if (rolling) return spent;
  const elapsed = Math.max(now - span.start, 1);
  const total = span.end - span.start;
  return roundMetric(metric, elapsed >= total ? spent : (spent * total) / elapsed);
}

export type BudgetState = "ok" | "warning" | "exceeded";

export interface Judgement {
  remaining: number;
  /** Percent of the limit, 2 decimals. */
  pct: number;
  state: BudgetState;
}

/**
 * `exceeded` at ≥ 100 %, `warning` at or past the lowest threshold below 100 %
 * (none: `ok` until exceeded), else `ok`.
 */
export function judge(metric: BudgetMetric, spent: number, limit: number, thresholds: readonly number[]): Judgement {
  const pct = Math.round((spent / limit) * 10_000) / 100;
  const warnAt = thresholds.filter((t) => t < 100).sort((a, b) => a - b)[0];
  const state: BudgetState = spent >= limit ? "exceeded" : warnAt !== undefined && pct >= warnAt ? "warning" : "ok";
  return { remaining: roundMetric(metric, Math.max(0, limit - spent)), pct, state };
}

/**
 * Whether a hard budget lets a call through: not when it is already at or over
 * its limit, nor when the call's estimate would take it past the limit. A call
 * that lands exactly on the limit is let through, so "room for N calls" lets N
 * through.
 */
export function admits(spent: number, held: number, estimate: number, limit: number): boolean {
  const used = spent + held;
  return used < limit && used + estimate <= limit;
}
