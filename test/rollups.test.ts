/**
 * Rollup correctness on the real engine: every aggregate the API reads from
 * llm_usage_daily / llm_usage_hourly / llm_usage_model_hourly equals the same aggregate over raw
 * llm_usage, with parts unmerged (SummingMergeTree / AggregatingMergeTree hold
 * many rows per key until a merge) and after OPTIMIZE … FINAL.
 */
import { randomUUID } from "node:crypto";
import type { ChdbStore } from "@tokenmeter/clickhouse";
import { toClickHouseTime, type UsageRow, usdText } from "@tokenmeter/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropTestStore, openTestStore } from "./support/store.js";

const SUMS = [
  "requests",
  "errors",
  "unpriced_requests",
  "input_tokens",
  "output_tokens",
  "cached_input_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "cost_usd",
];
const RAW_SUMS = `count() AS requests,
  countIf(status_code >= 400 OR error_code != '') AS errors,
  countIf(cost_source = 'unpriced') AS unpriced_requests,
  sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
  sum(cached_input_tokens) AS cached_input_tokens, sum(cache_write_tokens) AS cache_write_tokens,
  sum(reasoning_tokens) AS reasoning_tokens, sum(cost_usd) AS cost_usd`;
const ROLLUP_SUMS = SUMS.map((c) => `sum(${c}) AS ${c}`).join(", ");

/** Groupings the API and jobs read: [daily key expressions, matching raw expressions]. */
const DAILY_GROUPS: Array<[string, string]> = [
  ["org_id, day", "org_id, toDate(event_time) AS day"],
  ["org_id, day, provider, model", "org_id, toDate(event_time) AS day, provider, model"],
  ["org_id, agent_id", "org_id, agent_id"],
  ["org_id, user_id", "org_id, user_id"],
  ["org_id, project_id, error_code", "org_id, project_id, error_code"],
  [
    "org_id, day, project_id, agent_id, user_id, provider, model, error_code",
    "org_id, toDate(event_time) AS day, project_id, agent_id, user_id, provider, model, error_code",
  ],
];
const HOURLY_GROUPS: Array<[string, string]> = [
  ["org_id, hour", "org_id, toStartOfHour(toDateTime(event_time)) AS hour"],
  ["org_id, hour, model", "org_id, toStartOfHour(toDateTime(event_time)) AS hour, model"],
  [
    "org_id, hour, project_id, agent_id, provider, model, error_code",
    "org_id, toStartOfHour(toDateTime(event_time)) AS hour, project_id, agent_id, provider, model, error_code",
  ],
];
/** The model rollup: the groupings usage, errors and models read when no project or agent is asked for. */
const MODEL_GROUPS: Array<[string, string]> = [
  ["org_id, hour", "org_id, toStartOfHour(toDateTime(event_time)) AS hour"],
  ["org_id, provider, model", "org_id, provider, model"],
  ["org_id, toDate(hour) AS day, error_code", "org_id, toDate(event_time) AS day, error_code"],
  ["org_id, hour, provider, model, error_code", "org_id, toStartOfHour(toDateTime(event_time)) AS hour, provider, model, error_code"],
];
const ROLLUPS = ["llm_usage_daily", "llm_usage_hourly", "llm_usage_model_hourly"];
const TABLES = ["llm_usage", ...ROLLUPS];

describe("rollups equal raw on the real engine", () => {
  let store: ChdbStore;
  let events: UsageRow[];

  beforeAll(async () => {
    store = await openTestStore();
    // Merges stopped: every small insert stays its own part, the worst case for readers.
    for (const t of TABLES) await store.command(`SYSTEM STOP MERGES ${t}`);
    events = generateEvents(12_000, 20260201);
    const blocks = chunk(events, 100);
    for (const [i, block] of blocks.entries()) {
      const settings = { insert_deduplication_token: `rollups-${i}`, deduplicate_blocks_in_dependent_materialized_views: 1 };
      // Every fifth block is retried twice more, as a writer would after a lost ack.
      const attempts = i % 5 === 0 ? 3 : 1;
      for (let a = 0; a < attempts; a++) await store.insert("llm_usage", block, { settings });
    }
  });

  afterAll(async () => {
    await dropTestStore(store);
  });

  it("keeps parts unmerged while checking, then merges them", async () => {
    for (const t of ROLLUPS) {
      const [p] = await store.query<{ parts: number; partitions: number }>(
        "SELECT count() AS parts, uniqExact(partition) AS partitions FROM system.parts WHERE database = {db:String} AND table = {t:String} AND active",
        { db: store.database, t },
      );
      // ~120 insert blocks over two monthly partitions: far more parts than partitions.
      expect(p?.parts).toBeGreaterThan(100);
      expect(p?.partitions).toBe(2);
    }
  });

  it("counts each event once in raw and in every rollup, retried blocks included (dedup 3x)", async () => {
    const [row] = await store.query<{ raw: number; daily: number; hourly: number; model_hourly: number }>(
      `SELECT (SELECT count() FROM llm_usage) AS raw, (SELECT sum(requests) FROM llm_usage_daily) AS daily,
              (SELECT sum(requests) FROM llm_usage_hourly) AS hourly, (SELECT sum(requests) FROM llm_usage_model_hourly) AS model_hourly`,
    );
    expect(row).toEqual({ raw: events.length, daily: events.length, hourly: events.length, model_hourly: events.length });
    // Independent of the engine: per-org totals computed from the generated events.
    for (const t of ["llm_usage_daily", "llm_usage_model_hourly"]) {
      const totals = await store.query(`SELECT org_id, ${ROLLUP_SUMS} FROM ${t} GROUP BY org_id ORDER BY org_id`);
      expect(totals).toEqual(expectedOrgTotals(events));
    }
  });

  for (const phase of ["unmerged parts", "after OPTIMIZE FINAL"] as const) {
    describe(phase, () => {
      beforeAll(async () => {
        if (phase !== "after OPTIMIZE FINAL") return;
        for (const t of TABLES) {
          await store.command(`SYSTEM START MERGES ${t}`);
          await store.command(`OPTIMIZE TABLE ${t} FINAL`, {}, { timeoutMs: 60_000 });
        }
        for (const t of ["llm_usage_hourly", "llm_usage_model_hourly"]) {
          const [p] = await store.query<{ parts: number }>(
            "SELECT count() AS parts FROM system.parts WHERE database = {db:String} AND table = {t:String} AND active",
            { db: store.database, t },
          );
          expect(p?.parts).toBe(2);
        }
      });

      it.each(DAILY_GROUPS)("daily sums by (%s) equal raw", async (rollupKey, rawKey) => {
        const keys = keyNames(rollupKey);
        const fromRollup = await store.query(`SELECT ${rollupKey}, ${ROLLUP_SUMS} FROM llm_usage_daily GROUP BY ${keys} ORDER BY ${keys}`);
        const fromRaw = await store.query(`SELECT ${rawKey}, ${RAW_SUMS} FROM llm_usage GROUP BY ${keys} ORDER BY ${keys}`);
        expect(fromRollup.length).toBeGreaterThan(0);
        expect(fromRollup).toEqual(fromRaw);
      });

      it.each(HOURLY_GROUPS)("hourly sums by (%s) equal raw", async (rollupKey, rawKey) => {
        const keys = keyNames(rollupKey);
        const fromRollup = await store.query(`SELECT ${rollupKey}, ${ROLLUP_SUMS} FROM llm_usage_hourly GROUP BY ${keys} ORDER BY ${keys}`);
        const fromRaw = await store.query(`SELECT ${rawKey}, ${RAW_SUMS} FROM llm_usage GROUP BY ${keys} ORDER BY ${keys}`);
        expect(fromRollup.length).toBeGreaterThan(0);
        expect(fromRollup).toEqual(fromRaw);
      });

      it.each(MODEL_GROUPS)("model rollup sums by (%s) equal raw", async (rollupKey, rawKey) => {
        const keys = keyNames(rollupKey);
        const fromRollup = await store.query(
          `SELECT ${rollupKey}, ${ROLLUP_SUMS} FROM llm_usage_model_hourly GROUP BY ${keys} ORDER BY ${keys}`,
        );
        const fromRaw = await store.query(`SELECT ${rawKey}, ${RAW_SUMS} FROM llm_usage GROUP BY ${keys} ORDER BY ${keys}`);
        expect(fromRollup.length).toBeGreaterThan(0);
        expect(fromRollup).toEqual(fromRaw);
      });
    });
  }
});

/** Output column names of a GROUP BY expression list ("a, f(b, 1) AS c" → "a, c"). */
function keyNames(expr: string): string {
  return expr
    .split(/,(?![^(]*\))/)
    .map((k) =>
      k
        .trim()
        .split(/\s+AS\s+/i)
        .at(-1),
    )
    .join(", ");
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function expectedOrgTotals(events: UsageRow[]): Array<Record<string, unknown>> {
  const byOrg = new Map<string, Record<string, number>>();
  for (const e of events) {
    const t = byOrg.get(e.org_id) ?? Object.fromEntries(SUMS.map((c) => [c, 0]));
    t.requests! += 1;
    t.errors! += e.status_code >= 400 || e.error_code !== "" ? 1 : 0;
    t.unpriced_requests! += e.cost_source === "unpriced" ? 1 : 0;
    t.input_tokens! += e.input_tokens;
    t.output_tokens! += e.output_tokens;
    t.cached_input_tokens! += e.cached_input_tokens;
    t.cache_write_tokens! += e.cache_write_tokens;
    t.reasoning_tokens! += e.reasoning_tokens;
    t.cost_usd! += Number(e.cost_usd);
    byOrg.set(e.org_id, t);
  }
  // Costs are whole micro-dollars: the float sum rounded to them is exact, as the Decimal sum is.
  return [...byOrg.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([org_id, t]) => ({ org_id, ...t, cost_usd: Math.round((t.cost_usd as number) * 1e6) / 1e6 }));
}

/**
 * A realistic, deterministic event set: three orgs of different size, their
 * projects, agents and users, four models, errors, long-tailed latencies with
 * nulls and ties, spread over three weeks across a month boundary.
 * Costs are multiples of 2^-20 USD so float sums are exact in any order and
 * raw and rollup sums can be compared with equality.
 */
function generateEvents(n: number, seed: number): UsageRow[] {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const orgs = [
    ["org-acme", 0.6],
    ["org-globex", 0.3],
    ["org-initech", 0.1],
  ] as const;
  const models = [
    ["openai", "gpt-4o", 120],
    ["openai", "gpt-4o-mini", 40],
    ["anthropic", "claude-sonnet-4", 150],
    ["google", "gemini-2.5-flash", 30],
  ] as const;
  const start = Date.parse("2026-01-20T00:00:00Z");
  const span = 21 * 24 * 3600 * 1000;
  const rows: UsageRow[] = [];
  for (let i = 0; i < n; i++) {
    const r = rand();
    const org = r < orgs[0][1] ? orgs[0][0] : r < orgs[0][1] + orgs[1][1] ? orgs[1][0] : orgs[2][0];
    const [provider, model, baseMs] = pick(models);
    const failed = rand() < 0.06;
    const status = failed ? pick([429, 500, 503, 400]) : 200;
    const input = Math.floor(50 + rand() * 8000);
    const cached = rand() < 0.3 ? Math.floor(input * rand() * 0.8) : 0;
    const output = failed ? 0 : Math.floor(10 + rand() * 1500);
    const unpriced = model === "gemini-2.5-flash" && rand() < 0.5;
    // Log-normal-ish durations: a long tail matters for p95/p99.
    const duration = Math.round(baseMs * Math.exp(rand() * 2 + rand() * 2));
    rows.push({
      event_id: randomUUID(),
      event_time: toClickHouseTime(start + Math.floor(rand() * span)),
      org_id: org,
      project_id: `${org}-p${Math.floor(rand() * 3)}`,
      user_id: `user-${Math.floor(rand() * 12)}`,
      agent_id: pick(["support-bot", "coder", "planner", "summarizer"]),
      session_id: "",
      turn_id: "",
      message_id: "",
      call_sequence: null,
      provider,
      model,
      operation: "chat",
      input_tokens: input,
      output_tokens: output,
      cached_input_tokens: cached,
      cache_write_tokens: 0,
      reasoning_tokens: model === "claude-sonnet-4" ? Math.floor(output * rand() * 0.5) : 0,
      units: {},
      service_tier: "standard",
      image_size: "",
      image_quality: "",
      // Whole micro-dollars: exact in Decimal(38, 12) and in the float sums this test compares with.
      cost_usd: usdText(unpriced ? 0 : Math.floor(rand() * 2 ** 14) / 1e6),
      cost_input_usd: "0",
      cost_cached_input_usd: "0",
      cost_cache_write_usd: "0",
      cost_output_usd: "0",
      cost_reasoning_usd: "0",
      cost_units_usd: "0",
      cost_source: unpriced ? "unpriced" : "computed",
      pricing_version: unpriced ? "" : "v1",
      duration_ms: rand() < 0.1 ? null : duration,
      ttfb_ms: rand() < 0.15 ? null : Math.round(duration * (0.05 + rand() * 0.3)),
      // Small integers: many ties, the hard case for a rank check.
      proxy_overhead_ms: rand() < 0.3 ? null : Math.floor(rand() * rand() * 40),
      status_code: status,
      error_code: failed ? pick(["rate_limited", "server_error", "timeout"]) : "",
      streaming: rand() < 0.5 ? 1 : 0,
      tags: {},
      source: "http",
    });
  }
  return rows;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
