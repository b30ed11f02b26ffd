import { CronExpressionParser } from "cron-parser";
import type { Logger } from "pino";

export interface InProcessScheduleOptions {
  /** Cron pattern (UTC), same meaning as the BullMQ schedule's. */
  cron: string;
  run: () => Promise<unknown>;
  logger: Logger;
  /** Tries per run, the first included. */
  attempts: number;
  /** First retry delay; doubles each retry. */
  backoffMs: number;
  /** Also run once right away (the embedded default refreshes at start). */
  runAtStart?: boolean;
}

export interface InProcessSchedule {
  /** Runs now (with retries) unless a run is already going; resolves when it ends. */
  trigger(): Promise<void>;
  stop(): void;
}

/** setTimeout's limit; a cron date further away is reached in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * The embedded default's stand-in for the BullMQ repeatable job: one process,
 * so a timer to the next cron date suffices; retries with exponential backoff
 * like the BullMQ job, never two runs at once.
 */
export function startInProcessSchedule(opts: InProcessScheduleOptions): InProcessSchedule {
  const log = opts.logger.child({ op: "pricing_schedule", cron: opts.cron });
  // Parsed once up front so a bad pattern fails at start, not at the first run.
  CronExpressionParser.parse(opts.cron, { tz: "UTC" });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> | undefined;

  const runWithRetries = async () => {
    for (let attempt = 1; attempt <= opts.attempts && !stopped; attempt++) {
      try {
        await opts.run();
        return;
      } catch (err) {
        const last = attempt === opts.attempts;
        log.error(
          { err, attempt, attempts: opts.attempts },
          last ? "pricing run failed; giving up until the next schedule" : "pricing run failed; retrying",
        );
        if (!last) await sleep(opts.backoffMs * 2 ** (attempt - 1), () => stopped);
      }
    }
  };
  const trigger = () => {
    running ??= runWithRetries().finally(() => {
      running = undefined;
    });
    return running;
  };
  const arm = () => {
    if (stopped) return;
    const next = CronExpressionParser.parse(opts.cron, { tz: "UTC", currentDate: new Date() }).next().getTime();
    const delay = Math.max(0, next - Date.now());
    timer = setTimeout(
      () => {
        if (delay > MAX_DELAY_MS) return arm();
        void trigger().finally(arm);
      },
      Math.min(delay, MAX_DELAY_MS),
    );
    timer.unref();
  };
  if (opts.runAtStart) void trigger().finally(arm);
  else arm();
  return {
    trigger,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** Sleeps up to `ms`, waking early (every 100 ms check) once `cancelled()` is true. */
async function sleep(ms: number, cancelled: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end && !cancelled()) await new Promise((r) => setTimeout(r, Math.min(100, end - Date.now())));
}
