import { randomUUID } from "node:crypto";
import type { Store } from "@tokenmeter/clickhouse";
import { type CostSource, toUsageRow, type UsageEvent } from "@tokenmeter/core";
import { issueToken } from "@tokenmeter/http";
import { pino } from "pino";
import { Registry } from "prom-client";
import { createQueryApp } from "../app.js";
import { MemoryResultCache, type ResultCache } from "../cache.js";

export const JWT_SECRET = "test-secret-test-secret-test-secret-0123";

/** A generated event as the test sees it, with what was stored about its cost. */
export interface GenEvent extends UsageEvent {
  cost: number;
  cost_source: CostSource;
}

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MODELS = [
  ["openai", "gpt-4o"],
  ["openai", "gpt-4o-mini"],
  ["anthropic", "claude-sonnet-4"],
  ["google", "gemini-2.5-pro"],
] as const;
const ERROR_CODES = ["rate_limit", "timeout", "context_length"] as const;
/** Mostly chat, as in production; every other operation present. */
const OPERATION_MIX = ["chat", "chat", "chat", "embedding", "image", "audio", "rerank"] as const;
const TEAMS = ["growth", "core", "ml", "infra", "sales"] as const;

/** Tags of a generated event: team on ~80 %, a feature on ~half, a dotted key now and then. */
function dimTags(pick: <T>(xs: readonly T[]) => T, rand: () => number): Record<string, string> {
  const tags: Record<string, string> = {};
  if (rand() < 0.8) tags.team = pick(TEAMS);
  if (rand() < 0.5) tags.feature = `f${Math.floor(rand() * 12)}`;
  if (rand() < 0.1) tags["cost.center"] = pick(["eu-1", "us-2"]);
  return tags;
}

export interface GenerateOptions {
  orgs: string[];
  perOrg: number;
  from: number;
  to: number;
  seed?: number;
}

/** Events spread over [from, to) for each org, with every dimension and edge case the API handles. */
export function generateEvents(opts: GenerateOptions): GenEvent[] {
  const rand = rng(opts.seed ?? 42);
  // v1.1 dimensions from their own stream, so every other field stays as it was generated before.
  const dimRand = rng((opts.seed ?? 42) + 1);
  const pickDim = <T>(xs: readonly T[]): T => xs[Math.floor(dimRand() * xs.length)] as T;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const out: GenEvent[] = [];
  for (const org of opts.orgs) {
    for (let i = 0; i < opts.perOrg; i++) {
      const [provider, model] = pick(MODELS);
      const input = Math.floor(rand() * 5000);
      const output = Math.floor(rand() * 2000);
      const status = rand() < 0.08 ? pick([429, 500, 503]) : 200;
      const errorCode = status !== 200 && rand() < 0.7 ? pick(ERROR_CODES) : rand() < 0.02 ? "content_filter" : "";
      const unpriced = rand() < 0.05;
      const cost = unpriced ? 0 : Math.round(rand() * 50_000) / 1e6 + 0.0001;
      const ms = (n: number) => (rand() < 0.1 ? null : Math.floor(rand() * n));
      out.push({
        event_id: randomUUID(),
        event_time_ms: opts.from + Math.floor(rand() * (opts.to - opts.from)),
        org_id: org,
        project_id: pick(["web", "api", "batch"]),
        user_id: rand() < 0.1 ? "" : `u${Math.floor(rand() * 12)}`,
        agent_id: rand() < 0.1 ? "" : `agent-${Math.floor(rand() * 6)}`,
        session_id: "",
        turn_id: "",
        message_id: "",
        call_sequence: null,
        provider,
        model,
        operation: pickDim(OPERATION_MIX),
        input_tokens: input,
        output_tokens: output,
        cached_input_tokens: Math.floor(rand() * input * 0.5),
        cache_write_tokens: 0,
        reasoning_tokens: Math.floor(rand() * output * 0.3),
        cost_usd: unpriced ? null : cost,
        duration_ms: ms(20_000),
        ttfb_ms: ms(3_000),
        proxy_overhead_ms: ms(50),
        status_code: status,
        error_code: errorCode,
        streaming: false,
        tags: dimTags(pickDim, dimRand),
        cost,
        cost_source: unpriced ? "unpriced" : "reported",
      });
    }
  }
  return out;
}

/** Inserts through the raw table, so the materialized views fill both rollups as in production. */
export async function insertEvents(store: Store, events: readonly GenEvent[]): Promise<void> {
  const rows = events.map((e) => toUsageRow(e, { cost_usd: e.cost, cost_source: e.cost_source, pricing_version: "" }, "test"));
  for (let i = 0; i < rows.length; i += 5_000) await store.insert("llm_usage", rows.slice(i, i + 5_000));
}

/** A Store that counts the queries it runs (proves cache hits touch no store). */
export function countingStore(store: Store): Store & { queries: number } {
  const counted = {
    queries: 0,
    database: store.database,
    query: (async (sql: string, params?: Record<string, unknown>, o?: object) => {
      counted.queries++;
      return await store.query(sql, params, o);
    }) as Store["query"],
    insert: store.insert.bind(store),
    command: store.command.bind(store),
    close: store.close.bind(store),
  };
  return counted;
}

export interface TestApp {
  app: ReturnType<typeof createQueryApp>;
  registry: Registry;
  get(path: string, org: string, headers?: Record<string, string>): Promise<Response>;
}

export function makeApp(opts: {
  store: Store;
  cache?: ResultCache;
  now: number | (() => number);
  apiKeyHashes?: Record<string, string>;
  tagRollupKeys?: () => Promise<ReadonlySet<string>>;
}): TestApp {
  const registry = new Registry();
  const app = createQueryApp({
    store: opts.store,
    cache: opts.cache ?? new MemoryResultCache(),
    auth: { jwtSecret: JWT_SECRET, ...(opts.apiKeyHashes ? { apiKeyHashes: opts.apiKeyHashes } : {}) },
    logger: pino({ level: "silent" }),
    registry,
    now: typeof opts.now === "function" ? opts.now : () => opts.now as number,
    ...(opts.tagRollupKeys ? { tagRollupKeys: opts.tagRollupKeys } : {}),
  });
  const tokens = new Map<string, string>();
  return {
    app,
    registry,
    async get(path, org, headers = {}) {
      let token = tokens.get(org);
      if (!token) {
        token = await issueToken(JWT_SECRET, org);
        tokens.set(org, token);
      }
      return await app.request(path, { headers: { authorization: `Bearer ${token}`, ...headers } });
    },
  };
}
