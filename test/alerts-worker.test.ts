import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { ChdbStore, migrate } from "@tokenmeter/clickhouse";
import { toUsageRow } from "@tokenmeter/core";
import { createBudgetRuntime } from "@tokenmeter/query";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ruleRepo } from "../services/query/src/alerts/repo.js";
import { testEvent } from "../services/query/src/testing/events.js";
import { eventually, type Receiver, startReceiver } from "../services/query/src/testing/receiver.js";
import { dropQueues } from "../services/query/src/testing/redis.js";
import { type ClickHouseHttpServer, startClickHouseHttpServer } from "./support/clickhouse-http-server.js";
import { dropTestStore, TEST_DATA_DIR, testDatabaseName } from "./support/store.js";

// The distributed worker (services/pricing-refresh/src/main.ts) as real
// processes on real Redis: two replicas, one SIGKILLed and started again,
// and the webhook receiver still gets each notification exactly once.
const REDIS_URL = process.env.TOKENMETER_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const MAIN = join(import.meta.dirname, "../services/pricing-refresh/src/main.ts");
const database = testDatabaseName();
let server: ClickHouseHttpServer;
let store: ChdbStore;
let receiver: Receiver;
const children: ChildProcess[] = [];
const queue = `t-worker-${randomUUID()}`;

beforeAll(async () => {
  server = await startClickHouseHttpServer({ dataDir: TEST_DATA_DIR });
  store = await ChdbStore.open({ dataDir: TEST_DATA_DIR, database });
  await migrate(store);
  receiver = await startReceiver({ failFirst: 1 });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await dropQueues(REDIS_URL, queue);
  await receiver.close();
  await dropTestStore(store);
  await server.close();
});

function worker(): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
    env: {
      PATH: process.env.PATH,
      TOKENMETER_CLICKHOUSE_URL: server.url,
      TOKENMETER_CLICKHOUSE_DATABASE: database,
      TOKENMETER_REDIS_URL: REDIS_URL,
      TOKENMETER_PRICING_SOURCE: "bundled",
      TOKENMETER_PRICING_QUEUE: `${queue}-pricing`,
      TOKENMETER_ALERT_QUEUE: queue,
      TOKENMETER_ALERT_EVAL_INTERVAL_MS: "500",
      TOKENMETER_WEBHOOK_ALLOW_PRIVATE: "true",
      TOKENMETER_WEBHOOK_RETRY_BASE_MS: "100",
      TOKENMETER_METRICS_PORT: "0",
      TOKENMETER_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.push(child);
  return child;
}

describe("alert worker replicas", () => {
  it("two replicas, one SIGKILLed and restarted: each notification reaches the receiver once", { timeout: 120_000 }, async () => {
    const org = "org-worker";
    const runtime = createBudgetRuntime({ store, logger: pino({ level: "silent" }), now: Date.now });
    const budget = await runtime.repo.create(
      org,
      {
        name: "w",
        metric: "requests",
        limit: 2,
        window: { period: "day", tz: "UTC" },
        scope: {},
        per: null,
        thresholds: [50, 100],
        enforcement: "soft",
      },
      Date.now(),
    );
    await ruleRepo(store).create(
      org,
      {
        name: "w",
        source: { budget_id: budget.id },
        channels: [{ type: "webhook", url: receiver.url, secret: "worker-secret" }],
        enabled: true,
      },
      Date.now(),
    );
    const rows = [testEvent(org, Date.now() - 2_000), testEvent(org, Date.now() - 1_000)].map((e) =>
      toUsageRow(e, { cost_usd: 0.25, cost_source: "reported", pricing_version: "" }, "test"),
    );
    await store.insert("llm_usage", rows);
    const a = worker();
    worker();
    // 50 % and 100 % crossed: two notifications; the receiver fails the very first delivery, the retry gets through.
    expect(await eventually(() => receiver.accepted().length >= 2, 60_000)).toBe(true);
    a.kill("SIGKILL");
    await new Promise((r) => a.once("exit", r));
    worker();
    // Several evaluations by the survivor and the restarted replica (every 500 ms): nothing new may arrive.
    await new Promise((r) => setTimeout(r, 6_000));
    const ids = receiver.accepted().map((r) => (JSON.parse(r.body) as { id: string }).id);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    expect(receiver.received).toHaveLength(3);
  });
});
