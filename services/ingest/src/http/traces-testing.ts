import { issueToken } from "@tokenmeter/http";
import { encodeProtobufExport } from "@tokenmeter/otlp";
import { pino } from "pino";
import { type otlpExport, toProtobufShape } from "../../../../test/support/otlp-export.js";

/** Shared by the /v1/traces route tests: one clock, one secret, one way to post an export. */
export const T = Date.now();
export const secret = "t".repeat(32);
export const logger = pino({ level: "silent" });
export const newOrg = () => `org_${crypto.randomUUID().slice(0, 8)}`;

export async function postTo(
  target: { request(path: string, init: RequestInit): Response | Promise<Response> },
  org: string,
  body: Uint8Array | string,
  type: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return target.request("/v1/traces", {
    method: "POST",
    body: body as BodyInit,
    headers: { "content-type": type, authorization: `Bearer ${await issueToken(secret, org)}`, ...headers },
  });
}

export const protobuf = (exp: ReturnType<typeof otlpExport>) => encodeProtobufExport(toProtobufShape(exp));
export const bytes = async (res: Response) => new Uint8Array(await res.arrayBuffer());
