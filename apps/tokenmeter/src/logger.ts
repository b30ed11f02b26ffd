import { type Logger, pino } from "pino";
import pretty from "pino-pretty";

/**
 * The all-in-one's logger: readable lines on a terminal, JSON otherwise (a
 * file, a container, a pipe to a log shipper). Both write synchronously, so
 * log lines and the printed URL block come out in the order they happen.
 */
export function createLogger(level: string, tty: boolean): Logger {
  if (tty) return pino({ level }, pretty({ sync: true, colorize: true, translateTime: "SYS:HH:MM:ss", ignore: "pid,hostname" }));
  return pino({ level }, pino.destination({ dest: 1, sync: true }));
}
