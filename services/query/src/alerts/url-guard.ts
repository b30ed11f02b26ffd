import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

/**
 * Where a webhook may point. A tenant must not make the worker call the
 * cluster's own services, so loopback, private, link-local, CGNAT, unique-local
 * and unspecified addresses are refused unless explicitly allowed. Checked when
 * a rule is saved and again on the resolved address of every delivery (DNS can
 * change between the two).
 */
const refused = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  refused.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const)
  refused.addSubnet(net, bits, "ipv6");

/** A loopback/private/reserved address (IPv4-mapped IPv6 judged as its IPv4). */
export function isPrivateAddress(ip: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return refused.check(mapped[1], "ipv4");
  const family = isIP(ip);
  if (family === 0) return false;
  return refused.check(ip, family === 4 ? "ipv4" : "ipv6");
}

/** Why a URL is refused without resolving it (scheme, literal address, localhost), or null. */
export function staticUrlProblem(raw: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an absolute http(s) URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "must use http or https";
  if (url.username || url.password) return "must not carry credentials in the URL";
  if (allowPrivate) return null;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost") || isPrivateAddress(host))
    return "points at a loopback or private-network address (set TOKENMETER_WEBHOOK_ALLOW_PRIVATE=true to allow)";
  return null;
}

export type Resolve = (host: string) => Promise<string[]>;

/** The system resolver, bounded in time. */
export const systemResolve =
  (timeoutMs: number): Resolve =>
  async (host) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`DNS lookup of ${host} timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const found = await Promise.race([lookup(host, { all: true }), timeout]);
      return found.map((a) => a.address);
    } finally {
      clearTimeout(timer);
    }
  };

/**
 * The address problem of a URL once its host is resolved: null when every
 * address is allowed. A host that does not resolve is not refused here (the
 * delivery will fail and be retried); one that resolves to a private address is.
 */
export async function resolvedUrlProblem(raw: string, allowPrivate: boolean, resolve: Resolve): Promise<string | null> {
  const problem = staticUrlProblem(raw, allowPrivate);
  if (problem || allowPrivate) return problem;
  const host = new URL(raw).hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) return null;
  let addresses: string[];
  try {
    addresses = await resolve(host);
  } catch {
    return null;
  }
  const bad = addresses.find(isPrivateAddress);
  return bad ? `resolves to ${bad}, a loopback or private-network address` : null;
}
