import type { Store } from "@tokenmeter/clickhouse";
import type { AuthOptions } from "@tokenmeter/http";
import { followPricingUpdates, type PriceBook, type PricingUpdates } from "@tokenmeter/pricing";
import { Hono } from "hono";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createIngestRoutes } from "./http/routes.js";
import type { KafkaIngest } from "./kafka/members.js";
import { type IngestTransport, startIngestTransport, type TransportConfig } from "./transport.js";

export interface IngestServiceDeps {
  config: TransportConfig;
  store: Store;
  /** The price book every accepted event is priced with; this service keeps it current. */
  prices: PriceBook;
  /** Where "pricing updated" arrives (Redis pub/sub, or in-process in the all-in-one). */
  updates: PricingUpdates;
  auth: AuthOptions;
  logger: Logger;
  registry: Registry;
  /** Clock in epoch ms for event_time checks (tests inject one). */
  now?: () => number;
}

export interface IngestService {
  /** The HTTP ingest routes (`POST /v1/events`), to serve alone or mount beside the query API. */
  routes: Hono;
  /** How accepted events reach the store: the batching writer, or Kafka producer + consumer members. */
  transport: IngestTransport;
  /** Consumer members in this process (null in embedded mode). */
  kafka: KafkaIngest | null;
  /** Consumer joined its group (always true in embedded mode). */
  ready(): boolean;
  /** Finishes what is in flight (consumer ranges, writer buffer), stops following prices, disconnects. */
  stop(): Promise<void>;
}

/**
 * The ingest service, whole: HTTP ingest routes (`/v1/events`, `/v1/traces` for OTLP), the transport (Kafka
 * producer + consumer group member, or the batching writer), and price
 * following — every "pricing updated" reloads `prices`, so events accepted
 * after a refresh are priced with the new prices without a restart (ADR 0005).
 * The standalone process (server.ts) and the all-in-one both call this.
 */
export async function createIngestService(deps: IngestServiceDeps): Promise<IngestService> {
  // 1. Follow prices before taking events, so none is priced with a book that misses an update.
  const unfollow = await followPricingUpdates({ book: deps.prices, updates: deps.updates, logger: deps.logger });
  // 2. Transport: Kafka when brokers are configured, else the batching writer directly.
  const transport = await startIngestTransport({
    config: deps.config,
    store: deps.store,
    pricer: deps.prices,
    logger: deps.logger,
    registry: deps.registry,
    now: deps.now,
  });
  // 3. Routes; route() re-roots the auth-typed ingest app as a plain one.
  const routes = new Hono().route(
    "/",
    createIngestRoutes({ sink: transport.sink, auth: deps.auth, logger: deps.logger, registry: deps.registry, now: deps.now }),
  );
  const kafka = transport.kafka;
  return {
    routes,
    transport,
    kafka,
    ready: () => (kafka ? kafka.ready() : true),
    async stop() {
      await transport.stop();
      await unfollow();
    },
  };
}
