// `pnpm start`: the whole product in one process on its embedded default.
import { createServer } from "node:net";
import { stopOnSignal } from "@tokenmeter/http";
import { startTokenmeter } from "./app.js";
import { loadConfig } from "./config.js";
import { dataDirHolder, dataDirInUseMessage } from "./data-dir.js";
import { createLogger } from "./logger.js";

const HELP = `Usage: pnpm start [--check-config] [--help]

Starts Tokenmeter in one process: the embedded ClickHouse engine (data in
TOKENMETER_DATA_DIR, default ./data), HTTP ingest, the query API and the
dashboard; loads demo data into an empty store and prints the dashboard URL
with a demo token. Ctrl+C stops it.

Options:
  --check-config  validate the TOKENMETER_* environment and exit (0 = ok, 2 = problems listed)
  --help          print this help and exit

Settings are environment variables (README "Configuration"), e.g.
  TOKENMETER_PORT=0 pnpm start          any free port
  TOKENMETER_DEMO=0 pnpm start          no demo data
Jobs and tools (migrate, backfill, reprice, token, …): pnpm tokenmeter --help
`;

// 1. Help before anything else: it must work whatever the environment holds.
if (process.argv.includes("--help") || process.argv.includes("-h")) {
  process.stdout.write(HELP);
  process.exit(0);
}
// 2. Config: every problem at once.
const result = loadConfig(process.env);
if (!result.ok) {
  console.error(`invalid configuration:\n  ${result.errors.join("\n  ")}`);
  process.exit(2);
}
if (process.argv.includes("--check-config")) {
  // A misspelt setting is silently not applied: the check fails on it.
  if (result.unknown.length > 0) {
    console.error(`unknown settings:\n  ${result.unknown.join("\n  ")}`);
    process.exit(2);
  }
  console.log("configuration ok");
  process.exit(0);
}
const config = result.config;
const fail = (line: string): never => {
  console.error(line);
  return process.exit(1);
};
// 3. What would otherwise fail with a stack trace: the data dir or the port already taken.
const holder = config.TOKENMETER_CLICKHOUSE_URL ? null : dataDirHolder(config.TOKENMETER_DATA_DIR);
if (holder !== null) fail(dataDirInUseMessage("tokenmeter", config.TOKENMETER_DATA_DIR, holder));
const portInUse = () =>
  `tokenmeter: port ${config.TOKENMETER_PORT} on ${config.TOKENMETER_HOST} is already in use; ` +
  "set TOKENMETER_PORT to another port, or TOKENMETER_PORT=0 to pick a free one.";
if (config.TOKENMETER_PORT !== 0 && !(await portFree(config.TOKENMETER_HOST, config.TOKENMETER_PORT))) fail(portInUse());

// 4. Start; the demo load draws one progress line on a terminal.
const tty = Boolean(process.stdout.isTTY);
const logger = createLogger(config.TOKENMETER_LOG_LEVEL, tty);
for (const u of result.unknown) logger.warn({ op: "config" }, u);
const tm = await startTokenmeter(config, {
  logger,
  pricingSourceChosen: Boolean(process.env.TOKENMETER_PRICING_SOURCE),
  onDemoProgress: tty
    ? (written, total) => process.stdout.write(`\r  Loading demo data… ${Math.min(100, Math.round((100 * written) / total))} %`)
    : undefined,
}).catch((err: NodeJS.ErrnoException) => (err.code === "EADDRINUSE" ? fail(portInUse()) : Promise.reject(err)));
if (tty) process.stdout.write("\r\x1b[K");

// 5. Ctrl+C / SIGTERM: drain, say so, exit 0 (1 if the stop overruns stopOnSignal's 60 s bound) — the same
//    handler as every service's, installed before the URL block says "Ctrl+C stops it", or a Ctrl+C typed
//    at once would find the default handler (exit 130).
stopOnSignal(() => tm.stop(), {
  logger,
  onSignal: () => {
    if (tty) process.stdout.write("\n");
  },
  onStopped: () => console.log("Tokenmeter stopped."),
});

// 6. The URL block is the last thing printed, on every start.
const token = await tm.issueToken("acme");
console.log(
  [
    "",
    "  Tokenmeter is running.",
    "",
    `  Dashboard:  ${tm.url}/#token=${token}`,
    `  API:        curl -H "Authorization: Bearer ${token}" ${tm.url}/v1/analytics/usage`,
    `  Demo token (org "acme", 30 days): ${token}`,
    "",
    "  Ctrl+C stops it.",
    "",
  ].join("\n"),
);

/** Whether host:port can be listened on now (checked before the minutes-long start, not instead of handling EADDRINUSE). */
function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}
