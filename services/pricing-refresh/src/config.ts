import { PricingConfig, PricingWorkerConfig } from "@tokenmeter/config";
import { type ConfigResult, parseEnv } from "@tokenmeter/core";
import type { z } from "zod";

// The schemas are declared with every other process's in @tokenmeter/config (one name, one definition).
export { PricingConfig, PricingWorkerConfig };

/** Parses the environment with a schema, reporting every problem at once. */
export function loadConfig<T extends z.ZodType>(schema: T, env: Record<string, string | undefined>): ConfigResult<z.output<T>> {
  return parseEnv(schema, env);
}

/** Reads process.env: the one place this service does. */
export function readEnv(): Record<string, string | undefined> {
  return process.env;
}
