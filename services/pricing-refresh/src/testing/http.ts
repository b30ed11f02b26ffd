import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface TestServer {
  url: string;
  requests: number;
  close(): Promise<void>;
}

/** A price-list server on 127.0.0.1 whose answers the test scripts: one handler per request, the last one repeats. */
export async function startPriceServer(handlers: Array<(req: IncomingMessage, res: ServerResponse) => void>): Promise<TestServer> {
  const state = { requests: 0 };
  const server = createServer((req, res) => {
    const h = handlers[Math.min(state.requests, handlers.length - 1)];
    state.requests++;
    h?.(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/model_prices_and_context_window.json`,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const serve =
  (body: string, status = 200) =>
  (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(body);
  };

/** Never answers within the client's timeout. */
export const hang = (ms: number) => (_req: IncomingMessage, res: ServerResponse) => {
  setTimeout(() => res.writeHead(200).end("{}"), ms).unref();
};
