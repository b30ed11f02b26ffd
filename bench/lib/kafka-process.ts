/**
 * Distributed-mode ingest on one machine: the Kafka ingest service's consumer
 * (startKafkaIngest) writing into chDB, and the query API on the same store
 * (chDB allows one process per data dir, so both live here). Same stdout
 * contract as app-process.ts.
 *
 *   node --import tsx bench/lib/kafka-process.ts --data-dir=DIR --brokers=H:P --topic=T [--partitions=8]
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { ChdbStore, migrate } from "@tokenmeter/clickhouse";
import { issueToken } from "@tokenmeter/http";
import { createKafka, DEFAULT_KAFKA_INGEST, startKafkaIngest } from "@tokenmeter/ingest";
import { PriceBook } from "@tokenmeter/pricing";
import { createQueryApp, MemoryResultCache } from "@tokenmeter/query";
import { pino } from "pino";
import { Registry } from "prom-client";
import { benchArgs } from "./args.js";

const args = benchArgs();
const { "data-dir": dataDir, brokers, topic } = args.options;
if (!dataDir || !brokers || !topic) throw new Error("--data-dir, --brokers and --topic are required");
const jwtSecret = "bench-secret-bench-secret-bench-secret-0123";
const logger = pino({ level: args.options["log-level"] ?? "warn" }, pino.destination(2));
const registry = new Registry();
const store = await ChdbStore.open({ dataDir, database: "tokenmeter" });
await migrate(store);
const ingest = await startKafkaIngest({
  kafka: createKafka({ brokers: brokers.split(","), clientId: "bench-ingest", logger }),
  store,
  pricer: await PriceBook.load(store),
  logger,
  registry,
  settings: {
    ...DEFAULT_KAFKA_INGEST,
    createPartitions: Number(args.options.partitions ?? 8),
    topic,
    dlqTopic: `${topic}.dlq`,
    groupId: `bench-ingest-${Date.now()}`,
  },
});
// Measure from a joined consumer, not from a broker still loading its group coordinator (bounded: 60 s).
for (let i = 0; i < 600 && !ingest.ready(); i++) await new Promise((r) => setTimeout(r, 100));
if (!ingest.ready()) throw new Error("the Kafka consumer did not join its group within 60 s");
const cache = new MemoryResultCache();
const app = createQueryApp({ store, cache, auth: { jwtSecret }, logger, registry });
const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
await new Promise<void>((resolve) => server.once("listening", resolve));
const { port } = server.address() as AddressInfo;
const tokens: Record<string, string> = {};
for (const org of (args.options.orgs ?? "acme,bench-fresh").split(",")) tokens[org] = await issueToken(jwtSecret, org, 24 * 3600);
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, pid: process.pid, tokens })}\n`);

process.once("SIGTERM", () => {
  server.close();
  ingest
    .stop()
    .then(() => cache.close())
    .then(() => store.close())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
});
