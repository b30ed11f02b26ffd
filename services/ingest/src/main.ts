/**
 * The ingest service's process: `tsx services/ingest/src/main.ts [--check-config]`
 * (also `tokenmeter ingest`). Everything else is in run.ts / service.ts.
 */
import { readEnv } from "./kafka/config.js";
import { runIngest } from "./run.js";

await runIngest({ env: readEnv(), checkConfig: process.argv.includes("--check-config") });
