import { type CostBreakdown, usdText } from "./cost.js";
import type { ServiceTier, UsageEvent } from "./event.js";

export const COST_SOURCES = ["reported", "computed", "unpriced"] as const;
export type CostSource = (typeof COST_SOURCES)[number];

/** The outcome of pricing one event at its event_time. */
export interface PricedCost {
  cost_usd: number;
  cost_source: CostSource;
  /** Version of the price used ('' when reported or unpriced). */
  pricing_version: string;
  /** Parts of a computed cost (absent: all 0, as for reported and unpriced calls). */
  breakdown?: CostBreakdown;
}

/** One row of `llm_usage`, exactly as inserted (JSONEachRow). */
export interface UsageRow {
  event_id: string;
  /** 'YYYY-MM-DD hh:mm:ss.sss' in UTC: the format both drivers parse without settings. */
  event_time: string;
  org_id: string;
  project_id: string;
  user_id: string;
  agent_id: string;
  session_id: string;
  turn_id: string;
  message_id: string;
  call_sequence: number | null;
  provider: string;
  model: string;
  operation: string;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  units: Record<string, number>;
  service_tier: ServiceTier;
  image_size: string;
  image_quality: string;
  /** Decimal(38, 12) text (usdText): exact, never a binary float. */
  cost_usd: string;
  cost_input_usd: string;
  cost_cached_input_usd: string;
  cost_cache_write_usd: string;
  cost_output_usd: string;
  cost_reasoning_usd: string;
  cost_units_usd: string;
  cost_source: CostSource;
  pricing_version: string;
  duration_ms: number | null;
  ttfb_ms: number | null;
  proxy_overhead_ms: number | null;
  status_code: number;
  error_code: string;
  streaming: number;
  tags: Record<string, string>;
  /** Where the row came from: 'http', or 'kafka:<topic>:<partition>:<offset>'. */
  source: string;
}

const DAY_MS = 86_400_000;
/** 'YYYY-MM-DD ' per UTC day number: rows of one batch span a few days, and toISOString per row was ~5 % of ingest. */
const dayPrefixes = new Map<number, string>();
const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/** ClickHouse DateTime64(3) text ('YYYY-MM-DD hh:mm:ss.sss', UTC) for an epoch-ms instant. */
export function toClickHouseTime(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    prefix = `${new Date(day * DAY_MS).toISOString().slice(0, 10)} `;
    if (dayPrefixes.size >= 4_096) dayPrefixes.clear();
    dayPrefixes.set(day, prefix);
  }
  let rest = ms - day * DAY_MS;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const sec = Math.floor(rest / 1_000);
  return `${prefix}${pad2(h)}:${pad2(m)}:${pad2(sec)}.${pad3(rest - sec * 1_000)}`;
}

/** Epoch ms of ClickHouse DateTime(64) text in UTC, as toClickHouseTime writes it or a UTC column reads back. */
export function fromClickHouseTime(text: string): number {
  return Date.parse(`${text.replace(" ", "T")}Z`);
}

/** Builds the stored row from a validated event and its priced cost. */
export function toUsageRow(e: UsageEvent, cost: PricedCost, source: string): UsageRow {
  return {
    event_id: e.event_id,
    event_time: toClickHouseTime(e.event_time_ms),
    org_id: e.org_id,
    project_id: e.project_id,
    user_id: e.user_id,
    agent_id: e.agent_id,
    session_id: e.session_id,
    turn_id: e.turn_id,
    message_id: e.message_id,
    call_sequence: e.call_sequence,
    provider: e.provider,
    model: e.model,
    operation: e.operation,
    input_tokens: e.input_tokens,
    output_tokens: e.output_tokens,
    cached_input_tokens: e.cached_input_tokens,
    cache_write_tokens: e.cache_write_tokens,
    reasoning_tokens: e.reasoning_tokens,
    units: { ...e.units },
    service_tier: e.service_tier ?? "standard",
    image_size: e.image_size ?? "",
    image_quality: e.image_quality ?? "",
    cost_usd: usdText(cost.cost_usd),
    cost_input_usd: usdText(cost.breakdown?.input ?? 0),
    cost_cached_input_usd: usdText(cost.breakdown?.cached_input ?? 0),
    cost_cache_write_usd: usdText(cost.breakdown?.cache_write ?? 0),
    cost_output_usd: usdText(cost.breakdown?.output ?? 0),
    cost_reasoning_usd: usdText(cost.breakdown?.reasoning ?? 0),
    cost_units_usd: usdText(cost.breakdown?.units ?? 0),
    cost_source: cost.cost_source,
    pricing_version: cost.pricing_version,
    duration_ms: e.duration_ms,
    ttfb_ms: e.ttfb_ms,
    proxy_overhead_ms: e.proxy_overhead_ms,
    status_code: e.status_code,
    error_code: e.error_code,
    streaming: e.streaming ? 1 : 0,
    tags: e.tags,
    source,
  };
}
