import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A real HTTP webhook receiver on 127.0.0.1 that answers 500 to its first `failFirst` requests. */
export interface Receiver {
  url: string;
  received: Received[];
  /** Requests answered 2xx. */
  accepted(): Received[];
  close(): Promise<void>;
}

export async function startReceiver(opts: { failFirst?: number; failEach?: (r: Received, n: number) => boolean } = {}): Promise<Receiver> {
  const received: Received[] = [];
  const ok: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const r = { headers: req.headers, body };
      received.push(r);
      const fail = opts.failEach ? opts.failEach(r, received.length) : received.length <= (opts.failFirst ?? 0);
      if (!fail) ok.push(r);
      res.writeHead(fail ? 500 : 200).end(fail ? "not now" : "ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    accepted: () => ok,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Waits until `cond` holds, polling; bounded by `ms` (then returns false). */
export async function eventually(cond: () => boolean, ms = 5_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
}
