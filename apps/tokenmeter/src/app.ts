import { createStore, migrate, type Store, storeConfigFromEnv, syncTagRollupKeys } from "@tokenmeter/clickhouse";
import { type UsageEvent, validateEvent } from "@tokenmeter/core";
import { type AuthOptions, issueToken, listen, parseApiKeys } from "@tokenmeter/http";
import { createIngestService, type IngestTransport } from "@tokenmeter/ingest";
import { connectPricingUpdates, PriceBook } from "@tokenmeter/pricing";
import { createWorker } from "@tokenmeter/pricing-refresh";
import { createQueryService, createResultCache } from "@tokenmeter/query";
import type { Hono } from "hono";
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
  /** Extra route groups, mounted after the services' own. */
  mount?: Hono[];
  /** TOKENMETER_PRICING_SOURCE was set explicitly: refresh from it at start. */
  pricingSourceChosen?: boolean;
  /** Demo load progress (events written, about how many in all): main draws one progress line from it. */
  onDemoProgress?: (written: number, total: number) => void;
}

/**
 * Starts the whole product in one process: the three services' composition
 * functions (createWorker, createIngestService, createQueryService — the same
 * ones their standalone processes call) sharing one store, one price book
 * and one HTTP server; storage is chDB unless a ClickHouse URL is set.
 */
export async function startTokenmeter(config: AppConfig, opts: StartOptions): Promise<Tokenmeter> {
  const { logger } = opts;
  const registry = new Registry();
  // 1. Storage and schema (the migrate job's work in k8s).
  const store = await createStore(storeConfigFromEnv(config));
  const applied = await migrate(store);
  if (applied.length > 0) logger.info({ op: "migrate", applied }, "schema migrated");
  // Promoted tag keys (TOKENMETER_ROLLUP_TAG_KEYS): idempotent, a no-op when unchanged.
  await syncTagRollupKeys(store, config.TOKENMETER_ROLLUP_TAG_KEYS, { logger });

  // 2. Credentials.
  const jwtSecret = config.TOKENMETER_JWT_SECRET ?? loadOrCreateSecret(config.TOKENMETER_DATA_DIR);
  const auth: AuthOptions = { jwtSecret, apiKeyHashes: parseApiKeys(config.TOKENMETER_API_KEYS) };

  // 3. The worker: seeds the bundled prices on a fresh store, schedules refreshes
  //    (BullMQ with Redis, else in-process) and publishes "pricing updated";
  //    evaluates alert rules and delivers their webhooks.
  // BullMQ needs maxRetriesPerRequest: null on its connection.
  const bullConnection = config.TOKENMETER_REDIS_URL ? new Redis(config.TOKENMETER_REDIS_URL, { maxRetriesPerRequest: null }) : undefined;
  const pricing = connectPricingUpdates(config, logger);
  const worker = await createWorker({
    store,
    config,
    updates: pricing.updates,
    logger,
    registry,
    bullConnection,
    // Fetch at start only when a source was chosen; the bundled seed prices a laptop offline.
    refreshAtStart: opts.pricingSourceChosen ?? false,
  });

  // 4. Ingest, pricing with the one price book it keeps current.
  //    The writer logs every flush; while the demo loads (~50 flushes) only its warnings are wanted.
  const ingestLogger = logger.child({});
  const prices = await PriceBook.load(store);
  const ingest = await createIngestService({
    config,
    store,
    prices,
    updates: pricing.updates,
    auth,
    logger: ingestLogger,
    registry,
    now: opts.now,
  });

  // 5. Query, serving ingest's routes on the same server.
  const cache = await createResultCache(config, logger);
  const query = createQueryService({
    store,
    cache,
    auth,
    logger,
    registry,
    now: opts.now,
    // Budgets' check refresh and shared reservations (Redis when configured), the webhook policy.
    config,
    // Reservations on the worker's connection: one Redis connection (and outage line) fewer.
    redis: bullConnection,
    readiness: {
      ingest: async () => {
        if (!ingest.ready()) throw new Error("Kafka consumer has not joined its group");
      },
    },
    // A price override is announced on the channel ingest follows (in-process, or Redis when configured).
    pricingUpdates: pricing.updates,
    mount: [ingest.routes, ...(opts.mount ?? [])],
  });

  // 6. Demo data before the URL is printed, so the first page has something to show.
  if (config.TOKENMETER_DEMO) {
    ingestLogger.level = "warn";
    try {
      await loadDemoData(store, ingest.transport, config.TOKENMETER_DEMO_EVENTS, logger, opts.now ?? Date.now, opts.onDemoProgress);
    } finally {
      ingestLogger.level = logger.level;
    }
  }

  // 7. Serve.
  const server = await listen(query.app.fetch, { port: config.TOKENMETER_PORT, host: config.TOKENMETER_HOST });

  return {
    url: server.url,
    store,
    transport: ingest.transport,
    app: query.app,
    issueToken: (org_id, ttl) => issueToken(jwtSecret, org_id, ttl),
    async stop() {
      await server.close();
      await ingest.stop();
      await worker.close();
      await query.close();
      pricing.close();
      bullConnection?.disconnect();
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
