/** The two log levels an outage uses (a pino Logger fits). */
export interface OutageLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** A client that reports connection errors and reconnections (an ioredis client). */
export interface ConnectionEvents {
  on(event: "error", listener: (err: Error) => void): unknown;
  on(event: "ready", listener: () => void): unknown;
}

export interface OutageLog {
  /** A connection error: the first of an outage logs one warn line, the rest are only counted. */
  failed(err: unknown): void;
  /** Connected again: one info line if an outage was logged. */
  recovered(): void;
  /** Listens to a client's `error` and `ready` (an ioredis client without an `error` listener prints stacks on its own). */
  watch(client: ConnectionEvents): void;
}

/**
 * Logs a dependency's outages as transitions: one warn line when it starts
 * failing, one info line when it is back (with how long and how many errors),
 * never a stack. A reconnecting client reports every attempt (ioredis: ~5 a
 * second), which as error lines with stacks drowned real errors and looked
 * like a crash; the outage is the event an operator needs, not each retry.
 */
export function createOutageLog(logger: OutageLogger, dependency: string, clock: () => number = Date.now): OutageLog {
  let downSince: number | null = null;
  let errors = 0;
  const log: OutageLog = {
    failed(err) {
      errors++;
      if (downSince !== null) return;
      downSince = clock();
      logger.warn({ op: "outage", dependency, error: describeError(err) }, `${dependency} unreachable; retrying in the background`);
    },
    recovered() {
      if (downSince === null) return;
      logger.info({ op: "outage", dependency, down_ms: clock() - downSince, errors }, `${dependency} reachable again`);
      downSince = null;
      errors = 0;
    },
    watch(client) {
      client.on("error", (err) => log.failed(err));
      client.on("ready", () => log.recovered());
    },
  };
  return log;
}

/** One line about an error: its message, else its code (Node's AggregateError of a refused connection has no message). */
export function describeError(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown; errors?: unknown[] } | null;
  if (e && typeof e.message === "string" && e.message !== "") return e.message;
  if (e && Array.isArray(e.errors) && e.errors.length > 0) return describeError(e.errors[0]);
  if (e && typeof e.code === "string") return e.code;
  return String(err);
}
