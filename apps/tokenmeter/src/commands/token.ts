import { issueToken } from "@tokenmeter/http";
import type { Command } from "commander";
import { loadTokenConfig } from "../jobs/config.js";
import { EXIT, parseArgs, UsageError, usageExitCodes } from "../jobs/run.js";
import { loadOrCreateSecret } from "../secret.js";

const UNIT_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;
/** Longest TTL accepted: a token is a bearer credential, a year is already generous. */
const MAX_TTL_SECONDS = 366 * 86_400;

/**
 * `tokenmeter token --org <id> [--ttl 30d]`: prints a JWT (HS256, `org_id`
 * claim) signed with TOKENMETER_JWT_SECRET, or with the secret the
 * all-in-one generated in TOKENMETER_DATA_DIR. Only the token goes to stdout,
 * so `TOKEN=$(tokenmeter token --org acme)` works.
 */
export function register(program: Command): void {
  usageExitCodes(
    program
      .command("token")
      .description("mint an API token (JWT) for an org, signed with TOKENMETER_JWT_SECRET or the all-in-one's generated secret")
      .requiredOption("--org <id>", "org_id the token is scoped to")
      .option("--ttl <duration>", "lifetime: a number with s, m, h or d (e.g. 12h, 30d); at most 366d", "30d"),
  ).action(async (raw: { org: string; ttl: string }) => {
    const { org, ttlSeconds } = parseArgs("token", () => parseTokenArgs(raw));
    const loaded = loadTokenConfig();
    if (!loaded.ok) {
      for (const e of loaded.errors) process.stderr.write(`tokenmeter token: ${e}\n`);
      process.exit(EXIT.usage);
    }
    const { TOKENMETER_JWT_SECRET, TOKENMETER_DATA_DIR } = loaded.config;
    const secret = TOKENMETER_JWT_SECRET ?? loadOrCreateSecret(TOKENMETER_DATA_DIR);
    const token = await issueToken(secret, org, ttlSeconds);
    const expires = new Date(Date.now() + ttlSeconds * 1000).toISOString();
    const from = TOKENMETER_JWT_SECRET ? "TOKENMETER_JWT_SECRET" : `the secret in ${TOKENMETER_DATA_DIR}/jwt-secret`;
    process.stderr.write(`token for org "${org}", expires ${expires}, signed with ${from}\n`);
    process.stdout.write(`${token}\n`);
  });
}

export function parseTokenArgs(raw: { org: string; ttl: string }): { org: string; ttlSeconds: number } {
  const org = raw.org.trim();
  if (org.length === 0 || org.length > 256) throw new UsageError("--org must be 1 to 256 characters");
  return { org, ttlSeconds: parseDuration("--ttl", raw.ttl) };
}

/** `30d`, `12h`, `90m`, `3600s` or a bare number of seconds. */
export function parseDuration(flag: string, value: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(value.trim());
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[(m[2] || "s") as keyof typeof UNIT_SECONDS] : Number.NaN;
  if (!(seconds >= 1 && seconds <= MAX_TTL_SECONDS)) {
    throw new UsageError(`${flag} must be a duration like 12h or 30d (1s to 366d), got ${JSON.stringify(value)}`);
  }
  return seconds;
}
