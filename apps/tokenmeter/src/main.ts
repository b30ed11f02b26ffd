// `pnpm start`: the whole product in one process on its embedded default.
import { pino } from "pino";
import { startTokenmeter } from "./app.js";
import { loadConfig } from "./config.js";

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
const logger = pino({ level: config.TOKENMETER_LOG_LEVEL });
for (const u of result.unknown) logger.warn({ op: "config" }, u);
const tm = await startTokenmeter(config, {
  logger,
  pricingSourceChosen: Boolean(process.env.TOKENMETER_PRICING_SOURCE),
});
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
  ].join("\n"),
);

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ op: "shutdown", signal }, "draining");
    tm.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  });
}
