// Helpers shared by the batching writer's test files (real engine, no mocks).
import { randomUUID } from "node:crypto";
import { type StatementOptions, type Store, StoreError } from "@tokenmeter/clickhouse";
import { type BatchPolicy, type UsageEvent, validateEvent } from "@tokenmeter/core";
import { pino } from "pino";
import type { Registry } from "prom-client";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";

export const T = Date.parse("2026-06-01T12:00:00Z");
export const logger = pino({ level: "silent" });
/** Large enough that only the trigger under test fires. */
export const idle: Partial<BatchPolicy> = { maxRows: 1_000_000, maxBytes: 64 * 1024 * 1024, maxDelayMs: 600_000, idleMs: 0 };
const stores: Store[] = [];

/** Drops the stores a test opened (call from afterEach). */
export async function dropStores(): Promise<void> {
  for (const s of stores.splice(0)) await dropTestStore(s);
}

export async function freshStore(): Promise<Store> {
  const s = await openTestStore();
  stores.push(s);
  return s;
}

export function events(n: number, extra: Record<string, unknown> = {}): UsageEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const raw = {
      event_id: randomUUID(),
      event_time: new Date(T - i * 1_000).toISOString(),
      org_id: "acme",
      provider: "openai",
      model: "gpt-4o",
      input_tokens: 100,
      output_tokens: 10,
      duration_ms: 100 + i,
      status_code: 200,
      ...extra,
    };
    const r = validateEvent(raw, { now: T });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.event;
  });
}

export async function counts(store: Store) {
  const [raw] = await store.query<{ n: number }>("SELECT count() AS n FROM llm_usage");
  const [daily] = await store.query<{ n: number }>("SELECT sum(requests) AS n FROM llm_usage_daily");
  const [hourly] = await store.query<{ n: number }>("SELECT sum(requests) AS n FROM llm_usage_hourly");
  return { raw: Number(raw?.n), daily: Number(daily?.n), hourly: Number(hourly?.n) };
}

export async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .filter((v) => !("metricName" in v) || v.metricName === name || v.metricName === `${name}_count`)
    .reduce((n, v) => n + v.value, 0);
}

type InsertHook = (table: string, rows: readonly object[] | Buffer | string, opts?: StatementOptions) => Promise<void>;

/** A Store that runs `hook` around each insert of the real one: failure injection without mocks. */
export function wrapInserts(
  inner: Store,
  hook: (n: number, insert: InsertHook) => InsertHook,
): Store & { tokens: string[]; sizes: number[] } {
  let n = 0;
  const tokens: string[] = [];
  const sizes: number[] = [];
  const real: InsertHook = (t, r, o) => inner.insert(t, r, o);
  return {
    database: inner.database,
    tokens,
    sizes,
    query: (sql, params, opts) => inner.query(sql, params, opts),
    command: (sql, params, opts) => inner.command(sql, params, opts),
    close: () => inner.close(),
    insert: (table, rows, opts) => {
      tokens.push(String(opts?.settings?.insert_deduplication_token));
      sizes.push(typeof rows === "string" || Buffer.isBuffer(rows) ? rows.length : -1);
      return hook(++n, real)(table, rows, opts);
    },
  };
}

export const injected = (retryable: boolean) => new StoreError(retryable ? "timeout" : "bad_request", "injected failure", retryable);
