import { randomUUID } from "node:crypto";
import { issueToken } from "@tokenmeter/http";
import { pino } from "pino";

/** Shared by the /v1/events route tests: one clock, one secret, one event shape, one way to post. */
export const T = Date.parse("2026-06-01T12:00:00Z");
export const secret = "s".repeat(32);
export const logger = pino({ level: "silent" });

/** Every test posts as its own org, so stored counts never mix. */
export function newOrg(): string {
  return `org_${randomUUID().slice(0, 8)}`;
}

export function event(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: randomUUID(),
    event_time: "2026-06-01T11:59:00Z",
    provider: "anthropic",
    model: "claude-sonnet-4",
    input_tokens: 1_000,
    output_tokens: 200,
    status_code: 200,
    ...extra,
  };
}

export async function postEvents(
  target: { request(path: string, init: RequestInit): Response | Promise<Response> },
  org: string | null,
  body: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  const auth: Record<string, string> = org ? { authorization: `Bearer ${await issueToken(secret, org)}` } : {};
  return target.request("/v1/events", { method: "POST", body, headers: { "content-type": "application/json", ...auth, ...headers } });
}
