import { z } from "zod";

/** A parsed configuration, or every problem with it at once (`NAME: reason`). */
export type ConfigResult<T> = { ok: true; config: T } | { ok: false; errors: string[] };

/**
 * Parses the TOKENMETER_* variables of an environment with a config schema.
 * Empty values count as unset, so `FOO=` falls back to the default.
 */
export function parseEnv<T extends z.ZodType>(schema: T, env: Record<string, string | undefined>): ConfigResult<z.output<T>> {
  const relevant = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith("TOKENMETER_") && v !== ""));
  const parsed = schema.safeParse(relevant);
  if (parsed.success) return { ok: true, config: parsed.data };
  return { ok: false, errors: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`) };
}

/** TOKENMETER_LOG_LEVEL, the same in every process. */
export const LogLevel = z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info");
