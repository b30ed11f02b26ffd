import type { ConfigResult } from "@tokenmeter/core";
import { parseEnv } from "@tokenmeter/core";
import type { z } from "zod";
import { PROCESS_SCHEMAS } from "./services.js";

/** Reserved for the test harness (TOKENMETER_TEST_KAFKA_BROKERS, …): never a setting of a process. */
const HARNESS_PREFIX = "TOKENMETER_TEST_";

/**
 * Every setting name some Tokenmeter process reads. In Kubernetes all pods
 * share one ConfigMap, so a name another process reads is not a typo here.
 */
export const KNOWN_SETTINGS: ReadonlySet<string> = new Set(Object.values(PROCESS_SCHEMAS).flatMap((s) => Object.keys(s.shape)));

/**
 * TOKENMETER_* variables of `env` that no Tokenmeter process reads (a typo
 * such as TOKENMETER_PROT), each with the closest known name when there is a
 * plausible one: "TOKENMETER_PROT: not a Tokenmeter setting (did you mean TOKENMETER_PORT?)".
 */
export function unknownSettings(env: Record<string, string | undefined>): string[] {
  return Object.keys(env)
    .filter((k) => k.startsWith("TOKENMETER_") && !k.startsWith(HARNESS_PREFIX) && !KNOWN_SETTINGS.has(k))
    .sort()
    .map((k) => {
      const near = closest(k);
      return `${k}: not a Tokenmeter setting${near ? ` (did you mean ${near}?)` : ""}`;
    });
}

function closest(name: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of KNOWN_SETTINGS) {
    const d = distance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  // Beyond a few edits the "suggestion" is noise.
  return bestDistance <= 3 ? best : undefined;
}

/** Levenshtein distance, two rows. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

export type ProcessConfig<T> = ConfigResult<T> & {
  /** Unknown TOKENMETER_* variables (see unknownSettings): warned at start, errors for --check-config. */
  unknown: string[];
};

/** Parses a process's settings (every problem at once) and lists the unknown TOKENMETER_* variables beside them. */
export function loadProcessConfig<T extends z.ZodType>(schema: T, env: Record<string, string | undefined>): ProcessConfig<z.output<T>> {
  return { ...parseEnv(schema, env), unknown: unknownSettings(env) };
}
