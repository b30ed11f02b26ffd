import { createReadStream, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Store } from "@tokenmeter/clickhouse";
import { type Pricer, type UsageEvent, validateEvent } from "@tokenmeter/core";
import { createBatchWriter } from "@tokenmeter/ingest";
import { PriceBook } from "@tokenmeter/pricing";
import type { Command } from "commander";
import type { Logger } from "pino";
import { EXIT, type ExitCode, type JobContext, parseArgs, parseInstant, runJob, UsageError, usageExitCodes } from "../jobs/run.js";

export interface BackfillArgs {
  from: Date;
  to: Date;
  file: string;
  /** Events handed to the writer per call. Default 5 000. */
  chunk?: number;
}

export interface BackfillSummary {
  lines: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  out_of_range: number;
}

/** Rejected lines logged one by one; past this only counted, so a bad file cannot flood the log. */
const MAX_LOGGED_REJECTS = 100;
const MAX_IN_FLIGHT = 4;

/** `tokenmeter backfill --from <date> --to <date> --file <events.ndjson>` */
export function register(program: Command): void {
  usageExitCodes(
    program
      .command("backfill")
      .description(
        "load usage events (NDJSON, schema v1) with event_time in [from, to) through validation, pricing and the batching writer; re-running loads nothing twice",
      )
      .requiredOption("--from <date>", "load events at or after this ISO-8601 date or instant")
      .requiredOption("--to <date>", "load events before this ISO-8601 date or instant")
      .requiredOption("--file <path>", "NDJSON file, one event per line"),
  ).action(async (raw: { from: string; to: string; file: string }) => {
    const args = parseArgs("backfill", () => parseBackfillArgs(raw));
    await runJob("backfill", (ctx) => backfillJob(ctx, args));
  });
}

export function parseBackfillArgs(raw: { from: string; to: string; file: string }): BackfillArgs {
  const from = parseInstant("--from", raw.from);
  const to = parseInstant("--to", raw.to);
  if (from >= to) throw new UsageError("--from must be before --to");
  if (!existsSync(raw.file)) throw new UsageError(`--file ${raw.file} does not exist`);
  return { from, to, file: raw.file };
}

/**
 * Exit 0 when every line was loaded, already present, or outside the range;
 * 1 when any line was rejected (the valid ones are loaded regardless, and a
 * re-run after fixing the file loads only what is missing: the writer drops
 * event_ids already stored).
 */
export async function backfillJob({ store, logger }: JobContext, args: BackfillArgs): Promise<ExitCode> {
  const pricer = await PriceBook.load(store);
  const summary = await backfill({ store, logger, pricer }, args);
  const ok = summary.rejected === 0;
  logger.info({ op: "backfill", file: args.file, ...summary }, ok ? "backfill finished" : "backfill finished with rejected lines");
  return ok ? EXIT.ok : EXIT.failed;
}

/**
 * Streams the file in steps: 1. parse and validate each line (the same schema
 * v1 as every entry point), 2. keep events inside [from, to), 3. hand them to
 * the batching writer in chunks, which prices, drops stored event_ids and
 * inserts with a deduplication token.
 */
export async function backfill(deps: { store: Store; logger: Logger; pricer: Pricer }, args: BackfillArgs): Promise<BackfillSummary> {
  const { logger } = deps;
  const chunkSize = args.chunk ?? 5_000;
  // A full chunk flushes at once (rows trigger); the last, partial one is flushed by close().
  const writer = createBatchWriter({ store: deps.store, logger, pricer: deps.pricer, policy: { maxRows: chunkSize } });
  const s: BackfillSummary = { lines: 0, accepted: 0, duplicates: 0, rejected: 0, out_of_range: 0 };
  const now = Date.now();
  const [fromMs, toMs] = [args.from.getTime(), args.to.getTime()];
  // At most MAX_IN_FLIGHT chunks queued in the writer: reading runs ahead of inserting, boundedly.
  const inFlight: Promise<void>[] = [];
  let chunk: UsageEvent[] = [];
  const submit = () => {
    if (chunk.length === 0) return;
    inFlight.push(
      writer.write(chunk, "backfill").then((r) => {
        s.accepted += r.accepted;
        s.duplicates += r.duplicates;
        logger.info({ op: "backfill", ...s }, "progress");
      }),
    );
    chunk = [];
  };
  const reject = (line: number, errors: unknown) => {
    s.rejected++;
    if (s.rejected <= MAX_LOGGED_REJECTS) logger.warn({ op: "backfill", line, errors }, "line rejected");
  };
  let readError: unknown = null;
  try {
    const lines = createInterface({ input: createReadStream(args.file), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const text of lines) {
      s.lines++;
      if (text.trim() === "") continue;
      // 1. parse + validate
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        reject(s.lines, [{ path: "(line)", message: "not valid JSON" }]);
        continue;
      }
      const v = validateEvent(raw, { now });
      if (!v.ok) {
        reject(s.lines, v.errors);
        continue;
      }
      // 2. range
      if (v.event.event_time_ms < fromMs || v.event.event_time_ms >= toMs) {
        s.out_of_range++;
        continue;
      }
      // 3. write
      chunk.push(v.event);
      if (chunk.length >= chunkSize) {
        submit();
        if (inFlight.length >= MAX_IN_FLIGHT) await inFlight.shift();
      }
    }
    submit();
  } catch (err) {
    readError = err;
  }
  // Every write settles once close() has flushed; a read error, else the first write failure, is the job's failure.
  await writer.close();
  const settled = await Promise.allSettled(inFlight);
  if (readError) throw readError;
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  return s;
}
