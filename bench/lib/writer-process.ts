/**
 * HTTP ingest alone, composed from its parts with a tunable batch policy:
 * ChdbStore + migrations + PriceBook + createBatchWriter(policy) +
 * createIngestRoutes on @hono/node-server. Same stdout contract as
 * app-process.ts. Used to measure what a batch-policy change does (profile
 * findings) without touching the product's defaults.
 *
 *   node --import tsx bench/lib/writer-process.ts --data-dir=DIR [--max-delay-ms=N] [--max-rows=N]
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { ChdbStore, migrate } from "@tokenmeter/clickhouse";
import type { BatchPolicy } from "@tokenmeter/core";
import { issueToken } from "@tokenmeter/http";
import { createBatchWriter, createIngestRoutes } from "@tokenmeter/ingest";
import { PriceBook } from "@tokenmeter/pricing";
import { pino } from "pino";
import { benchArgs } from "./args.js";

const args = benchArgs();
const dataDir = args.options["data-dir"];
if (!dataDir) throw new Error("--data-dir is required");
const policy: Partial<BatchPolicy> = {};
if (args.options["max-delay-ms"]) policy.maxDelayMs = Number(args.options["max-delay-ms"]);
if (args.options["max-rows"]) policy.maxRows = Number(args.options["max-rows"]);
if (args.options["idle-ms"]) policy.idleMs = Number(args.options["idle-ms"]);

const jwtSecret = "bench-secret-bench-secret-bench-secret-0123";
const logger = pino({ level: args.options["log-level"] ?? "warn" }, pino.destination(2));
const store = await ChdbStore.open({ dataDir, database: "tokenmeter" });
await migrate(store);
const writer = createBatchWriter({ store, logger, pricer: await PriceBook.load(store), policy });
const app = createIngestRoutes({ sink: writer, auth: { jwtSecret }, logger });
const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
await new Promise<void>((resolve) => server.once("listening", resolve));
const { port } = server.address() as AddressInfo;
const orgs = (args.options.orgs ?? "acme").split(",");
const tokens: Record<string, string> = {};
for (const org of orgs) tokens[org] = await issueToken(jwtSecret, org, 24 * 3600);
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, pid: process.pid, tokens, policy })}\n`);

process.once("SIGTERM", () => {
  server.close();
  writer
    .close()
    .then(() => store.close())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
});
