import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createStore, migrate, type Store, storeConfigFromEnv, syncTagRollupKeys } from "@tokenmeter/clickhouse";
import { oldestAcceptedMs, type UsageEvent, validateEvent } from "@tokenmeter/core";
import { type AuthOptions, issueToken, parseApiKeys } from "@tokenmeter/http";
import { createIngestRoutes, type IngestTransport, startIngestTransport } from "@tokenmeter/ingest";
import {
  followPricingUpdates,
  InProcessPricingUpdates,
  PriceBook,
  type PricingUpdates,
  pricingChannel,
  RedisPricingUpdates,
} from "@tokenmeter/pricing";
import { reprice, startPricingRefresh } from "@tokenmeter/pricing-refresh";
import {
  createBudgetRuntime,
  createPricingRoutes,
  createQueryApp,
  deliveryPolicy,
  MemoryResultCache,
  RedisReservations,
  RedisResultCache,
  type ResultCache,
} from "@tokenmeter/query";
import { Hono } from "hono";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { Registry } from "prom-client";
import type { AppConfig } from "./config.js";
import { demoEvents } from "./demo.js";
import { loadOrCreateSecret } from "./secret.js";

export interface Tokenmeter {
  /** Base URL the HTTP server listens on. */
  url: string;
  store: Store;
  /** How accepted events reach the store (writer, or Kafka producer + consumer). */
  transport: IngestTransport;
  app: Hono;
  /** A signed token for an org (the demo token, tests). */
  issueToken(org_id: string, ttlSeconds?: number): Promise<string>;
  /** Stops serving, flushes the writer, closes connections. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  /** Clock (tests inject one). */
  now?: () => number;
  /** Extra route groups (the dashboard is added by main). */
  mount?: Hono[];
  /** TOKENMETER_PRICING_SOURCE was set explicitly: refresh from it at start. */
  pricingSourceChosen?: boolean;
  /** Demo load progress (events written, about how many in all): main draws one progress line from it. */
  onDemoProgress?: (written: number, total: number) => void;
}

/**
 * Starts the whole product in one process: storage (chDB unless a ClickHouse
 * URL is set), schema, pricing, the batching writer behind HTTP ingest, the
 * query API and its cache, and demo data on an empty store.
 */
export async function startTokenmeter(config: AppConfig, opts: StartOptions): Promise<Tokenmeter> {
  const { logger } = opts;
  const registry = new Registry();
  // 1. Storage and schema.
  const store = await createStore(storeConfigFromEnv(config));
  const applied = await migrate(store);
  if (applied.length > 0) logger.info({ op: "migrate", applied }, "schema migrated");
  // Promoted tag keys (TOKENMETER_ROLLUP_TAG_KEYS): idempotent, a no-op when unchanged.
  await syncTagRollupKeys(store, config.TOKENMETER_ROLLUP_TAG_KEYS, { logger });

  // 2. Credentials.
  const jwtSecret = config.TOKENMETER_JWT_SECRET ?? loadOrCreateSecret(config.TOKENMETER_DATA_DIR);
  const auth: AuthOptions = { jwtSecret, apiKeyHashes: parseApiKeys(config.TOKENMETER_API_KEYS) };

  // 3. Pricing: seed the bundled prices on a fresh store, schedule refreshes
  //    (BullMQ with Redis, else in-process), reload on "pricing updated";
  //    then the writer prices every event at its event_time.
  // BullMQ needs maxRetriesPerRequest: null on its connection.
  const redis = config.TOKENMETER_REDIS_URL ? new Redis(config.TOKENMETER_REDIS_URL, { maxRetriesPerRequest: null }) : undefined;
  const updates: PricingUpdates = redis
    ? new RedisPricingUpdates({ redis, channel: pricingChannel(config.TOKENMETER_REDIS_PREFIX), logger })
    : new InProcessPricingUpdates();
  const pricing = await startPricingRefresh({
    store,
    config,
    updates,
    logger,
    registry,
    bullConnection: redis,
    // Fetch at start only when a source was chosen; the bundled seed prices a laptop offline.
    refreshAtStart: opts.pricingSourceChosen ?? false,
  });
  const prices = await PriceBook.load(store);
  const unsubscribe = await followPricingUpdates({ book: prices, updates, logger });
  // 4. Transport: Kafka (produce, then a consumer drains the topic) or the batching writer.
  // The writer logs every flush; while the demo loads (~50 flushes) only its warnings are wanted.
  const ingestLogger = logger.child({});
  const transport = await startIngestTransport({ config, store, pricer: prices, logger: ingestLogger, registry, now: opts.now });
  const sink = transport.sink;

  // 5. Query API with its cache; ingest and extra routes mounted on the same server.
  const cache: ResultCache = config.TOKENMETER_REDIS_URL
    ? new RedisResultCache({ url: config.TOKENMETER_REDIS_URL, logger })
    : new MemoryResultCache();
  // Budgets: the pre-call check's snapshot; reservations in Redis when configured (shared by replicas).
  const budgets = createBudgetRuntime({
    store,
    logger,
    now: opts.now ?? Date.now,
    refreshMs: config.TOKENMETER_BUDGET_REFRESH_MS,
    ...(redis ? { reservations: new RedisReservations(redis, `${config.TOKENMETER_REDIS_PREFIX}:budgets`) } : {}),
  });
  const app = createQueryApp({
    store,
    cache,
    auth,
    logger,
    registry,
    now: opts.now,
    budgets,
    alertPolicy: deliveryPolicy(config),
    readiness: {
      ingest: async () => {
        if (transport.kafka && !transport.kafka.ready()) throw new Error("Kafka consumer has not joined its group");
      },
    },
    // route() re-roots the ingest app (typed with its auth variables) as a plain one.
    mount: [
      new Hono().route("/", createIngestRoutes({ sink, auth, logger, registry, now: opts.now })),
      createPricingRoutes({
        store,
        auth,
        now: opts.now,
        // An org's new override: this process prices with it at once, and the model's history is re-priced.
        onOverride: async (o) => {
          await prices.reload();
          const nowMs = (opts.now ?? Date.now)();
          // History older than raw's retention has no raw rows to re-price.
          const from = new Date(Math.max(o.from, oldestAcceptedMs(nowMs)));
          const report = await reprice({
            store,
            book: prices,
            model: o.model,
            from,
            to: new Date(nowMs + 60_000),
            logger,
            now: () => nowMs,
          });
          return { rows_changed: report.rows_changed, months: report.months.map((m) => m.month) };
        },
      }),
      ...(opts.mount ?? []),
    ],
  });

  // 6. Demo data before the URL is printed, so the first page has something to show.
  if (config.TOKENMETER_DEMO) {
    ingestLogger.level = "warn";
    try {
      await loadDemoData(store, transport, config.TOKENMETER_DEMO_EVENTS, logger, opts.now ?? Date.now, opts.onDemoProgress);
    } finally {
      ingestLogger.level = logger.level;
    }
  }

  // 7. Serve.
  const server = serve({ fetch: app.fetch, port: config.TOKENMETER_PORT, hostname: config.TOKENMETER_HOST });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.TOKENMETER_HOST === "0.0.0.0" ? "127.0.0.1" : config.TOKENMETER_HOST;

  return {
    url: `http://${host}:${port}`,
    store,
    transport,
    app,
    issueToken: (org_id, ttl) => issueToken(jwtSecret, org_id, ttl),
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await transport.stop();
      await unsubscribe();
      budgets.stop();
      await pricing.close();
      await cache.close();
      redis?.disconnect();
      await store.close();
    },
  };
}

/**
 * Loads the demo data set through the real ingest path (validated, priced,
 * deduplicated; through Kafka when configured) on an empty store.
 */
async function loadDemoData(
  store: Store,
  transport: IngestTransport,
  events: number,
  logger: Logger,
  now: () => number,
  onProgress?: (written: number, total: number) => void,
): Promise<void> {
  const [row] = await store.query<{ n: number }>("SELECT count() AS n FROM llm_usage");
  if (Number(row?.n ?? 0) > 0 || events === 0) return;
  const started = now();
  let written = 0;
  for (const chunk of demoEvents({ events, end: started })) {
    const valid: UsageEvent[] = [];
    for (const raw of chunk) {
      const r = validateEvent(raw, { now: started });
      if (r.ok) valid.push(r.event);
    }
    // One insert per ~5,000-event chunk: flush now rather than wait for the timer.
    const done = transport.sink.write(valid, "demo");
    await transport.writer?.flush();
    written += (await done).accepted;
    onProgress?.(written, events);
  }
  logger.info({ op: "demo", events: written, ms: Date.now() - started }, "demo data loaded");
}
