import type { Store } from "@tokenmeter/clickhouse";
import { issueToken } from "@tokenmeter/http";
import type { Hono } from "hono";
import { pino } from "pino";
import { Registry } from "prom-client";
import { createQueryApp } from "../app.js";
import type { Reservations } from "../budgets/reservations.js";
import { type BudgetRuntime, createBudgetRuntime } from "../budgets/runtime.js";
import { MemoryResultCache } from "../cache.js";
import { JWT_SECRET } from "./fixture.js";

/** A query app with budgets on a real store, and JSON helpers that authenticate as an org. */
export interface BudgetTestApp {
  app: Hono;
  /** The check's snapshot and reservations (a test drives `runtime.snapshot.refreshAll()` itself). */
  runtime: BudgetRuntime;
  stop(): void;
  call(method: string, path: string, org: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  json<T = Record<string, unknown>>(method: string, path: string, org: string, body?: unknown): Promise<T>;
}

export function makeBudgetApp(opts: { store: Store; now: () => number; reservations?: Reservations; refreshMs?: number }): BudgetTestApp {
  const logger = pino({ level: "silent" });
  const budgets = createBudgetRuntime({
    store: opts.store,
    logger,
    now: opts.now,
    ...(opts.reservations ? { reservations: opts.reservations } : {}),
    ...(opts.refreshMs ? { refreshMs: opts.refreshMs } : {}),
  });
  const app = createQueryApp({
    store: opts.store,
    cache: new MemoryResultCache(),
    auth: { jwtSecret: JWT_SECRET },
    logger,
    registry: new Registry(),
    now: opts.now,
    budgets,
  });
  const tokens = new Map<string, string>();
  const call = async (method: string, path: string, org: string, body?: unknown, headers: Record<string, string> = {}) => {
    const token = tokens.get(org) ?? (await issueToken(JWT_SECRET, org));
    tokens.set(org, token);
    return await app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
  };
  return {
    app,
    runtime: budgets,
    stop: () => budgets.stop(),
    call,
    async json<T>(method: string, path: string, org: string, body?: unknown): Promise<T> {
      const res = await call(method, path, org, body);
      if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
  };
}
