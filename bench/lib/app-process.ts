/**
 * The all-in-one product as a bench child process (embedded default: chDB,
 * HTTP ingest into the batching writer, query API with the in-memory cache).
 * Prints one JSON line {url, pid, tokens} on stdout when serving; SIGTERM
 * stops it cleanly (so --cpu-prof can write its profile).
 *
 *   node --import tsx bench/lib/app-process.ts --data-dir=DIR [--orgs=acme,bench-fresh] [--log-level=info]
 */
import { pino } from "pino";
import { startTokenmeter } from "../../apps/tokenmeter/src/app.js";
import { loadConfig } from "../../apps/tokenmeter/src/config.js";
import { benchArgs } from "./args.js";

const args = benchArgs();
const dataDir = args.options["data-dir"];
if (!dataDir) throw new Error("--data-dir is required");
const result = loadConfig({
  TOKENMETER_DATA_DIR: dataDir,
  TOKENMETER_PORT: "0",
  TOKENMETER_HOST: "127.0.0.1",
  TOKENMETER_DEMO: "0",
  TOKENMETER_JWT_SECRET: "bench-secret-bench-secret-bench-secret-0123",
  TOKENMETER_LOG_LEVEL: args.options["log-level"] ?? "warn",
});
if (!result.ok) throw new Error(result.errors.join("; "));
const logger = pino({ level: result.config.TOKENMETER_LOG_LEVEL }, pino.destination(2));
const tm = await startTokenmeter(result.config, { logger });
const orgs = (args.options.orgs ?? "acme,globex,initech,bench-fresh").split(",");
const tokens: Record<string, string> = {};
for (const org of orgs) tokens[org] = await tm.issueToken(org, 24 * 3600);
process.stdout.write(`${JSON.stringify({ url: tm.url, pid: process.pid, tokens })}\n`);

let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  tm.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
