import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbStore } from "@tokenmeter/clickhouse";
import type { UsageEventInput } from "@tokenmeter/core";
import { issueToken } from "@tokenmeter/http";
import { BUNDLED_SNAPSHOT_PATH, PriceBook } from "@tokenmeter/pricing";
import { enqueueRefresh } from "@tokenmeter/pricing-refresh";
import { ENDPOINTS } from "@tokenmeter/query";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClickHouseHttpServer, startClickHouseHttpServer } from "./support/clickhouse-http-server.js";
import { deleteTopics, groupLag, liveEvents, normalized, produce, testBrokers, testKafka, waitFor } from "./support/kafka.js";
import { testDatabaseName } from "./support/store.js";
import {
  freePort,
  killPod,
  type PodSpec,
  type Proc,
  podEnv,
  renderPods,
  runToCompletion,
  startProcess,
  stopProcess,
  waitForStatus,
} from "./support/topology.js";
import { COUNTING_TABLES, duplicateIds, expectedTotals, storedTotals } from "./support/totals.js";

/** An endpoint's path with the parameters it requires (tag values need the key). */
const sample = (path: string) => (path === "/v1/tags/values" ? `${path}?key=team` : path);

// The distributed topology, run the way deploy/k8s runs it: the migrate Job,
// then each pod's init container (wait for migrations) and app container, as
// separate OS processes with the command, args and env of the rendered
// single-node overlay — two ingest pods in one consumer group, two query pods
// sharing Redis, one worker. Backing services are real: an Apache Kafka
// broker, Redis, and for ClickHouse the project's HTTP endpoint over the real
// engine (test/support/clickhouse-http-server.ts on chDB), because no
// ClickHouse server binary can be installed on these machines.
//
// Overridden from the manifests, and only these (a single machine is not a cluster):
// - addresses: TOKENMETER_CLICKHOUSE_URL, TOKENMETER_KAFKA_BROKERS, TOKENMETER_REDIS_URL;
// - ports: every pod listens on 8080; here each process gets a free port;
// - names that keep this test apart from others on the same broker and Redis
//   (database, topics, group, Redis prefixes, BullMQ queue) and TOKENMETER_DATA_DIR;
// - TOKENMETER_PRICING_SOURCE: a file the test edits (the default is a public URL; no internet here);
// - speed: TOKENMETER_KAFKA_SESSION_TIMEOUT_MS / HEARTBEAT (the group notices a killed member sooner).

const REDIS_URL = process.env.TOKENMETER_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const SECRETS = { "jwt-secret": `topology-${"s".repeat(40)}`, "clickhouse-password": "topology-password" };
const ORG = "topo";
const tag = randomUUID().slice(0, 8);
const names = {
  database: testDatabaseName(),
  topic: `topo-${tag}`,
  dlq: `topo-${tag}.dlq`,
  group: `topo-${tag}-ingest`,
  redisPrefix: `topo-${tag}`,
  queue: `topo-${tag}-pricing`,
};
const kafka = testKafka();
const dir = mkdtempSync(join(tmpdir(), "tokenmeter-topology-"));
const priceFile = join(dir, "prices.json");

let clickhouse: ClickHouseHttpServer;
let store: ChdbStore;
let pods: Map<string, PodSpec>;
const procs: Proc[] = [];
const ingest: Array<{ proc: Proc; url: string }> = [];
const query: Array<{ proc: Proc; url: string }> = [];
let worker: { proc: Proc; url: string };

function envFor(workload: string, podName: string, port: Record<string, string> = {}): Record<string, string> {
  const spec = pods.get(workload);
  if (!spec) throw new Error(`${workload} not in the rendered overlay`);
  return podEnv(spec, {
    podName,
    secrets: SECRETS,
    overrides: {
      TOKENMETER_CLICKHOUSE_URL: clickhouse.url,
      TOKENMETER_CLICKHOUSE_DATABASE: names.database,
      TOKENMETER_KAFKA_BROKERS: testBrokers(),
      TOKENMETER_KAFKA_TOPIC: names.topic,
      TOKENMETER_KAFKA_DLQ_TOPIC: names.dlq,
      TOKENMETER_KAFKA_GROUP_ID: names.group,
      TOKENMETER_KAFKA_SESSION_TIMEOUT_MS: "6000",
      TOKENMETER_KAFKA_HEARTBEAT_INTERVAL_MS: "1000",
      TOKENMETER_REDIS_URL: REDIS_URL,
      TOKENMETER_REDIS_PREFIX: names.redisPrefix,
      TOKENMETER_REDIS_KEY_PREFIX: `${names.redisPrefix}:q:`,
      TOKENMETER_PRICING_QUEUE: names.queue,
      TOKENMETER_PRICING_SOURCE: priceFile,
      TOKENMETER_DATA_DIR: join(dir, podName),
      ...port,
    },
  });
}

/** A pod: its init containers run to completion, then its app container starts (as the kubelet does). */
async function startPod(workload: string, podName: string, port: Record<string, string>): Promise<Proc> {
  const spec = pods.get(workload)!;
  const env = envFor(workload, podName, port);
  for (const [i, command] of spec.init.entries()) await runToCompletion(`${podName}/init-${i}`, command, env);
  const proc = startProcess(podName, spec.command, env);
  procs.push(proc);
  return proc;
}

const bearer = async (org = ORG) => ({ authorization: `Bearer ${await issueToken(SECRETS["jwt-secret"], org)}` });

beforeAll(async () => {
  // 1. Backing services: ClickHouse's HTTP interface over chDB, with the overlay's user.
  store = await ChdbStore.open({ dataDir: join(dir, "chdb"), database: names.database });
  clickhouse = await startClickHouseHttpServer({
    dataDir: join(dir, "chdb"),
    username: "tokenmeter",
    password: SECRETS["clickhouse-password"],
  });
  writeFileSync(priceFile, readFileSync(BUNDLED_SNAPSHOT_PATH));
  pods = await renderPods("single-node");

  // 2. The migrate Job, to completion.
  await runToCompletion("migrate", pods.get("tokenmeter-migrate")!.command, envFor("tokenmeter-migrate", "tokenmeter-migrate"));

  // 3. The Deployments' pods, all at once, as a rollout starts them.
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const [i0, i1, q0, q1, w] = ports as [number, number, number, number, number];
  const started = await Promise.all([
    startPod("tokenmeter-ingest", "tokenmeter-ingest-0", { TOKENMETER_INGEST_PORT: String(i0) }),
    startPod("tokenmeter-ingest", "tokenmeter-ingest-1", { TOKENMETER_INGEST_PORT: String(i1) }),
    startPod("tokenmeter-query", "tokenmeter-query-0", { TOKENMETER_PORT: String(q0) }),
    startPod("tokenmeter-query", "tokenmeter-query-1", { TOKENMETER_PORT: String(q1) }),
    startPod("tokenmeter-pricing-refresh", "tokenmeter-pricing-refresh-0", { TOKENMETER_METRICS_PORT: String(w) }),
  ]);
  ingest.push({ proc: started[0], url: `http://127.0.0.1:${i0}` }, { proc: started[1], url: `http://127.0.0.1:${i1}` });
  query.push({ proc: started[2], url: `http://127.0.0.1:${q0}` }, { proc: started[3], url: `http://127.0.0.1:${q1}` });
  worker = { proc: started[4], url: `http://127.0.0.1:${w}` };

  // 4. Ready as the readiness probes see it: ingest joined the group, query reaches store and Redis.
  await Promise.all([
    ...ingest.map((p) => waitForStatus(`${p.url}/readyz`, 200, p.proc)),
    ...query.map((p) => waitForStatus(`${p.url}/readyz`, 200, p.proc)),
    waitForStatus(`${worker.url}/readyz`, 200, worker.proc),
  ]);
}, 180_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => stopProcess(p, "SIGTERM", 20_000)));
  await clickhouse?.close();
  await store?.command(`DROP DATABASE IF EXISTS ${names.database}`).catch(() => undefined);
  await store?.close();
  await deleteTopics(kafka, [names.topic, names.dlq]).catch(() => undefined);
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${names.redisPrefix}*`);
  const bull = await redis.keys(`bull:${names.queue}:*`);
  if (keys.length + bull.length > 0) await redis.del(...keys, ...bull);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe("distributed topology, started as deploy/k8s starts it", () => {
  it("starts every pod from the manifests' settings without an unknown-setting warning", () => {
    for (const p of procs)
      expect(
        p.logs.filter((l) => l.op === "config").map((l) => l.msg),
        p.name,
      ).toEqual([]);
  });

  it("both query pods serve the dashboard, the pricing API and every analytics endpoint", async () => {
    const headers = await bearer();
    for (const q of query) {
      const page = await fetch(`${q.url}/`);
      expect(page.status, `${q.proc.name} GET /`).toBe(200);
      expect(await page.text()).toMatch(/<html/i);
      const prices = await fetch(`${q.url}/v1/pricing/models`, { headers });
      expect(prices.status, `${q.proc.name} /v1/pricing/models`).toBe(200);
      expect(((await prices.json()) as { count: number }).count).toBeGreaterThan(50);
      for (const e of ENDPOINTS) {
        const res = await fetch(`${q.url}${sample(e.path)}`, { headers });
        expect(res.status, `${q.proc.name} ${e.path}`).toBe(200);
      }
    }
  });

  it("a second query pod answers from Redis what the first one cached (X-Cache HIT)", async () => {
    const headers = await bearer();
    const path = `/v1/analytics/usage?start=2026-01-05T00:00:00Z&end=2026-01-12T00:00:00Z&granularity=day&model=${tag}`;
    const redis = new Redis(REDIS_URL);
    const cacheKeys = async () => new Set(await redis.keys(`${names.redisPrefix}:q:*`));
    try {
      const before = await cacheKeys();
      const first = await fetch(`${query[0]!.url}${path}`, { headers });
      expect(first.headers.get("x-cache")).toBe("MISS");
      const body = await first.json();
      // The fill is one Redis SET with a 250 ms timeout (a busy machine may miss it: then pod 0 is asked again).
      await waitFor(
        "pod 0 filled the shared cache",
        async () => {
          if ([...(await cacheKeys())].some((k) => !before.has(k))) return true;
          await fetch(`${query[0]!.url}${path}`, { headers });
          return false;
        },
        10_000,
        200,
      );
      const second = await fetch(`${query[1]!.url}${path}`, { headers });
      expect(second.headers.get("x-cache")).toBe("HIT");
      expect(await second.json()).toEqual(body);
    } finally {
      redis.disconnect();
    }
  });

  it("a price change published by the worker reprices events at both running ingest pods, no restart", async () => {
    const pids = ingest.map((p) => p.proc.child.pid);
    const event = (): UsageEventInput => ({
      event_id: randomUUID(),
      event_time: new Date().toISOString(),
      org_id: ORG,
      provider: "openai",
      model: "gpt-4o-mini",
      input_tokens: 1_000,
      output_tokens: 0,
      status_code: 200,
    });
    const old = (await PriceBook.load(store)).lookup("openai", "gpt-4o-mini", Date.now());
    expect(old?.prices.input).toBeGreaterThan(0);
    const newInput = (old?.prices.input ?? 0) * 10;

    // 1. The source changes one price; the worker's refresh job picks it up and publishes "pricing updated".
    const doc = JSON.parse(readFileSync(priceFile, "utf8")) as Record<string, Record<string, unknown>>;
    doc["gpt-4o-mini"]!.input_cost_per_token = newInput;
    writeFileSync(priceFile, JSON.stringify(doc));
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const { version, changed } = await enqueueRefresh({ connection, queueName: names.queue }).finally(() => connection.disconnect());
    expect(changed).toBe(1);
    expect(version).not.toBe("");

    // 2. Each running ingest pod reloads that version.
    for (const p of ingest) {
      await waitFor(
        `${p.proc.name} reloads prices`,
        async () => p.proc.logs.some((l) => l.op === "pricing_reload" && l.version === version),
        30_000,
        100,
      );
    }

    // 3. Events accepted by either pod now are priced with the new price.
    const events = [event(), event(), event(), event()];
    for (const [i, p] of ingest.entries()) {
      const res = await fetch(`${p.url}/v1/events`, {
        method: "POST",
        headers: { ...(await bearer()), "content-type": "application/json" },
        body: JSON.stringify(events.slice(i * 2, i * 2 + 2)),
      });
      expect(await res.json()).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    }
    const ids = events.map((e) => e.event_id as string);
    type Row = { cost_usd: number; pricing_version: string };
    let rows: Row[] = [];
    await waitFor(
      "the repriced events stored",
      async () => {
        rows = await store.query<Row>(
          "SELECT toFloat64(cost_usd) AS cost_usd, pricing_version FROM llm_usage WHERE event_id IN {ids:Array(UUID)}",
          {
            ids,
          },
        );
        return rows.length === events.length;
      },
      30_000,
      200,
    );
    for (const r of rows) {
      expect(r.pricing_version).toBe(version);
      expect(Number(r.cost_usd)).toBeCloseTo(1_000 * newInput, 9);
    }
    expect(ingest.map((p) => p.proc.child.pid)).toEqual(pids);
  });

  it("a price override PUT on a query pod re-prices the history and every ingest pod prices new events with it", async () => {
    const org = `${ORG}-override`;
    const model = `ft:gpt-4o-mini:${org}:${tag}`;
    const prices = { input_cost_per_token: 3e-7, output_cost_per_token: 1.2e-6 };
    const nowMs = Date.now();
    const event = (i: number, ago: number): UsageEventInput => ({
      event_id: randomUUID(),
      event_time: new Date(nowMs - ago).toISOString(),
      org_id: org,
      provider: "openai",
      model,
      input_tokens: 1_000 + i,
      output_tokens: 300 + i,
      status_code: 200,
    });
    const cost = (e: UsageEventInput) =>
      Number(e.input_tokens) * prices.input_cost_per_token + Number(e.output_tokens) * prices.output_cost_per_token;
    const headers = { ...(await bearer(org)), "content-type": "application/json" };
    type Row = { id: string; cost_usd: number; cost_source: string };
    const stored = async (ids: string[]) =>
      await store.query<Row>(
        "SELECT toString(event_id) AS id, toFloat64(cost_usd) AS cost_usd, cost_source FROM llm_usage WHERE event_id IN {ids:Array(UUID)}",
        { ids },
      );
    const post = async (url: string, events: UsageEventInput[]) => {
      const res = await fetch(`${url}/v1/events`, { method: "POST", headers, body: JSON.stringify(events) });
      expect(await res.json()).toEqual({ accepted: events.length, duplicates: 0, rejected: [] });
    };

    // 1. A day of history of a model the price list does not know: stored unpriced.
    const history = Array.from({ length: 6 }, (_, i) => event(i, 86_400_000 + i * 60_000));
    await post(ingest[0]!.url, history.slice(0, 3));
    await post(ingest[1]!.url, history.slice(3));
    const historyIds = history.map((e) => e.event_id as string);
    await waitFor("the history stored", async () => (await stored(historyIds)).length === history.length, 30_000, 200);
    expect((await stored(historyIds)).map((r) => r.cost_source)).toEqual(history.map(() => "unpriced"));

    const range = `start=${new Date(nowMs - 3 * 86_400_000).toISOString()}&end=${new Date(nowMs + 120_000).toISOString()}`;
    const unpricedModels = async () =>
      (
        (await (await fetch(`${query[1]!.url}/v1/pricing/unpriced?${range}`, { headers })).json()) as { models: { model: string }[] }
      ).models.map((m) => m.model);
    expect(await unpricedModels()).toContain(model);

    // 2. The org prices it through a query pod; the pod re-prices the history and announces the new prices.
    const reloads = ingest.map((p) => p.proc.logs.filter((l) => l.op === "pricing_reload").length);
    const res = await fetch(`${query[0]!.url}/v1/pricing/overrides/${encodeURIComponent(model)}`, {
      method: "PUT",
      headers,
      body: JSON.stringify(prices),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { reprice: unknown }).reprice).toMatchObject({ rows_changed: history.length, pricing_updated: true });
    for (const [i, p] of ingest.entries())
      await waitFor(
        `${p.proc.name} reloads prices`,
        async () => p.proc.logs.filter((l) => l.op === "pricing_reload").length > reloads[i]!,
        30_000,
        100,
      );

    // 3. New events through either ingest pod are priced with the override at ingest.
    const fresh = [event(100, 1_000), event(101, 1_000)];
    await post(ingest[0]!.url, fresh.slice(0, 1));
    await post(ingest[1]!.url, fresh.slice(1));
    const all = [...history, ...fresh];
    let rows: Row[] = [];
    await waitFor(
      "the new events stored",
      async () => {
        rows = await stored(all.map((e) => e.event_id as string));
        return rows.length === all.length;
      },
      30_000,
      200,
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const e of all) {
      const r = byId.get(e.event_id as string)!;
      expect(r.cost_source, e.event_id as string).toBe("computed");
      expect(Math.abs(Number(r.cost_usd) - cost(e))).toBeLessThanOrEqual(1e-9);
    }

    // 4. The other query pod answers from the rebuilt rollups: nothing unpriced, the override's total.
    const models = (await (await fetch(`${query[1]!.url}/v1/analytics/models?${range}`, { headers })).json()) as {
      models: { model: string; requests: number; unpriced_requests: number; cost_usd: number }[];
    };
    const row = models.models.find((m) => m.model === model);
    expect(row).toMatchObject({ requests: all.length, unpriced_requests: 0 });
    expect(Math.abs((row?.cost_usd ?? 0) - all.reduce((s, e) => s + cost(e), 0))).toBeLessThanOrEqual(1e-9);
    expect(await unpricedModels()).not.toContain(model);
    const listed = (await (await fetch(`${query[1]!.url}/v1/pricing/overrides`, { headers })).json()) as { overrides: { model: string }[] };
    expect(listed.overrides.map((o) => o.model)).toEqual([model]);
  });

  it("counts every event once after an ingest pod is SIGKILLed mid-stream and the group rebalances (raw and every rollup)", async () => {
    const org = `${ORG}-kill`;
    const events = liveEvents(3_000, 1515).map((e) => ({ ...e, org_id: org }));
    const headers = { ...(await bearer(org)), "content-type": "application/json" };
    const killed = ingest[0]!;
    const survivor = ingest[1]!;
    let dead = false;

    /** An HTTP client with a retry on the other pod, as a Service gives after an endpoint dies. */
    async function send(target: { url: string }, chunk: object[]): Promise<void> {
      for (const url of target === killed && dead ? [survivor.url] : [target.url, survivor.url]) {
        try {
          const res = await fetch(`${url}/v1/events`, { method: "POST", headers, body: JSON.stringify(chunk) });
          if (res.status === 200) return;
        } catch {}
      }
      throw new Error("a chunk was acknowledged by neither ingest pod");
    }

    // 1. 30 chunks of 100: through pod 0, pod 1, and straight to Kafka in turn; pod 0 is killed after the 10th,
    //    while a request to it is in flight.
    const chunks = Array.from({ length: 30 }, (_, i) => events.slice(i * 100, i * 100 + 100));
    for (const [i, chunk] of chunks.entries()) {
      if (i === 10) {
        const inFlight = send(killed, chunk);
        killPod(killed.proc);
        dead = true;
        await inFlight;
        continue;
      }
      if (i % 3 === 0) await send(killed, chunk);
      else if (i % 3 === 1) await send(survivor, chunk);
      else await produce(kafka, names.topic, chunk);
    }
    expect(await killed.proc.exited).toBe("SIGKILL");

    // 2. The group notices, the survivor takes every partition and drains the topic.
    await waitFor("the survivor caught up", async () => (await groupLag(kafka, names.group, names.topic)) === 0, 90_000, 500);
    await waitFor(
      "every event stored",
      async () => {
        const [r] = await store.query<{ n: number }>("SELECT count() AS n FROM llm_usage WHERE org_id = {org:String}", { org });
        return Number(r?.n) >= events.length;
      },
      30_000,
      250,
    );

    // 3. 0 lost, 0 double, in raw and every rollup.
    const book = await PriceBook.load(store);
    const expected = expectedTotals(normalized(events), book)[org]!;
    const stored = await storedTotals(store);
    expect(await duplicateIds(store)).toBe(0);
    for (const table of Object.keys(COUNTING_TABLES) as Array<keyof typeof COUNTING_TABLES>) {
      const s = stored[table][org]!;
      expect({ table, ...s, cost_micros: 0 }).toEqual({ table, ...expected, cost_micros: 0 });
      expect(Math.abs(s.cost_micros - expected.cost_micros)).toBeLessThanOrEqual(2);
    }
    expect(survivor.proc.child.exitCode).toBeNull();
  });
});
