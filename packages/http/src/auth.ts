import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { sign, verify } from "hono/jwt";
import { ApiError } from "./errors.js";

/** What a request is allowed to see: exactly one org. */
export interface Principal {
  org_id: string;
  subject: string;
}

export type AuthEnv = { Variables: { principal: Principal } };

export interface AuthOptions {
  /** HS256 secret for `Authorization: Bearer <JWT>`. */
  jwtSecret: string;
  /** Service-account keys: SHA-256 hex of the key → org_id. */
  apiKeyHashes?: Record<string, string>;
}

/**
 * Resolves the caller's org from `Authorization: Bearer` (a JWT with an
 * `org_id` claim, or a static API key). The org is never read from the query.
 */
export function authenticate(opts: AuthOptions): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match?.[1]) throw new ApiError("unauthorized", "missing Authorization: Bearer <token>");
    c.set("principal", await resolvePrincipal(match[1].trim(), opts));
    await next();
  };
}

export async function resolvePrincipal(token: string, opts: AuthOptions): Promise<Principal> {
  if (opts.apiKeyHashes && !token.includes(".")) {
    const hash = createHash("sha256").update(token).digest();
    for (const [hex, org] of Object.entries(opts.apiKeyHashes)) {
      const want = Buffer.from(hex, "hex");
      if (want.length === hash.length && timingSafeEqual(want, hash)) return { org_id: org, subject: `apikey:${hex.slice(0, 8)}` };
    }
    throw new ApiError("unauthorized", "unknown API key");
  }
  let claims: Record<string, unknown>;
  try {
    claims = await verify(token, opts.jwtSecret, "HS256");
  } catch (err) {
    const expired = (err as Error).name === "JwtTokenExpired";
    throw new ApiError("unauthorized", expired ? "token expired" : "invalid token");
  }
  const org = claims.org_id;
  if (typeof org !== "string" || org.length === 0) throw new ApiError("unauthorized", "token has no org_id claim");
  return { org_id: org, subject: typeof claims.sub === "string" ? claims.sub : org };
}

/** Issues a token for an org (demo token, tests, `tokenmeter token`). */
export async function issueToken(secret: string, org_id: string, ttlSeconds = 30 * 24 * 3600, sub?: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign({ org_id, sub: sub ?? org_id, iat: now, exp: now + ttlSeconds }, secret, "HS256");
}
