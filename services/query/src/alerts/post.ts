import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { isPrivateAddress } from "./url-guard.js";

export interface PostResult {
  status: number;
}

/** An address the guard refused at connect time (never retried: the URL itself is the problem). */
export class RefusedAddressError extends Error {
  override readonly name = "RefusedAddressError";
}

/**
 * A resolver for the socket that refuses private addresses unless allowed:
 * the address checked is the address connected to, so a DNS answer that
 * changes after the rule was saved (or between a check and the connect)
 * cannot reach a private service.
 */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "", 0);
      const list = addresses as LookupAddress[];
      const ok = allowPrivate ? list : list.filter((a) => !isPrivateAddress(a.address));
      if (ok.length === 0)
        return callback(
          new RefusedAddressError(`${hostname} resolves to ${list[0]?.address ?? "nothing"}, a loopback or private-network address`),
          "",
          0,
        );
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, ok);
      const first = ok[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

/**
 * POSTs a body with a hard timeout over the whole exchange. Literal IP hosts
 * skip DNS, so the caller checks them before (staticUrlProblem).
 */
export function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  opts: { timeoutMs: number; allowPrivate: boolean },
): Promise<PostResult> {
  const u = new URL(url);
  const request = u.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      u,
      {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers },
        lookup: guardedLookup(opts.allowPrivate),
        signal: AbortSignal.timeout(opts.timeoutMs),
      },
      (res) => {
        // Drain (bounded) so the socket is released; the body itself is not needed.
        res.on("data", () => {});
        res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
        res.on("error", reject);
      },
    );
    req.on("error", (err) => reject(err.name === "AbortError" ? new Error(`no answer within ${opts.timeoutMs} ms`) : err));
    req.end(body);
  });
}
