import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Logger } from "pino";

export interface Listening {
  /** The port bound (the one asked for, or the free one picked for 0). */
  port: number;
  /** Base URL to reach it on loopback. */
  url: string;
  /** Stops accepting connections and waits for open requests to finish. */
  close(): Promise<void>;
}

/** Serves a fetch handler (a Hono app's `fetch`) and resolves once the port is bound. */
export async function listen(
  fetch: (req: Request) => Response | Promise<Response>,
  at: { port: number; host: string },
): Promise<Listening> {
  const server = serve({ fetch, port: at.port, hostname: at.host });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = at.host === "0.0.0.0" || at.host === "::" ? "127.0.0.1" : at.host;
  return {
    port,
    url: `http://${host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface StopOnSignalOptions {
  logger: Logger;
  /** After this long the process exits 1 whatever the stop is doing (the pod's grace period must exceed it). */
  hardStopMs?: number;
  /** Runs first on the signal (the all-in-one ends its terminal's progress line). */
  onSignal?: () => void;
  /** Runs after a clean stop, just before exit 0 (the all-in-one's closing line for a person). */
  onStopped?: () => void;
}

/**
 * The last step of every main.ts: on SIGTERM or SIGINT run `stop` once, then
 * exit 0 (1 when it failed or overran `hardStopMs`).
 */
export function stopOnSignal(stop: () => Promise<void>, opts: StopOnSignalOptions): void {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = true;
    opts.onSignal?.();
    const started = Date.now();
    opts.logger.info({ op: "shutdown", signal }, "stopping");
    const hardStop = setTimeout(() => {
      opts.logger.error({ op: "shutdown", ms: Date.now() - started }, "shutdown overran its bound; exiting");
      process.exit(1);
    }, opts.hardStopMs ?? 60_000);
    hardStop.unref();
    stop().then(
      () => {
        opts.logger.info({ op: "shutdown", ms: Date.now() - started }, "stopped");
        opts.onStopped?.();
        process.exit(0);
      },
      (err: unknown) => {
        opts.logger.error({ op: "shutdown", err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
}
