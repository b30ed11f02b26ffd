import { z } from "zod";

/** TOKENMETER_JWT_SECRET: the HS256 secret (required by standalone services). */
export const JwtSecret = z.string().min(32, "must be at least 32 characters");

/** TOKENMETER_API_KEYS: `sha256hex:org_id` pairs separated by commas; only hashes are configured. */
export const ApiKeys = z
  .string()
  .regex(/^([0-9a-f]{64}:[^,:]+)(,[0-9a-f]{64}:[^,:]+)*$/, "must be sha256hex:org_id pairs separated by commas")
  .optional();

/** TOKENMETER_API_KEYS → {sha256hex: org_id}, as `authenticate()` takes them. */
export function parseApiKeys(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of value?.split(",") ?? []) {
    const [hash, org] = pair.split(":");
    if (hash && org) out[hash] = org;
  }
  return out;
}
