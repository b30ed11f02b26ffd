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
  return { ok: false, errors: parsed.error.issues.map((i) => describeIssue(i, relevant)) };
}

/** Secrets are never echoed back: only their length is. */
const SECRET = /SECRET|PASSWORD|API_KEYS/;

/**
 * `NAME: required` for a missing setting, else `NAME=<value as given>: why`,
 * so the operator sees what was read (a typo, quoting, an unexpanded $VAR).
 */
function describeIssue(issue: z.core.$ZodIssue, env: Record<string, string | undefined>): string {
  const name = issue.path.join(".");
  const value = env[String(issue.path[0])];
  if (value === undefined) return `${name}: required`;
  const shown = SECRET.test(name) ? `(${value.length} characters, not shown)` : JSON.stringify(value);
  // zod says "expected number, received NaN" for `abc`: say what was wanted instead.
  const message = /expected number, received NaN/.test(issue.message) ? "must be a number" : issue.message;
  return `${name}=${shown}: ${message}`;
}

/** TOKENMETER_LOG_LEVEL, the same in every process. */
export const LogLevel = z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info");
