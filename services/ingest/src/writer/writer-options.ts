import type { Store } from "@tokenmeter/clickhouse";
import type { BatchPolicy, Pricer } from "@tokenmeter/core";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { EventSink } from "../sink.js";
import type { FlushJournal } from "./flush-journal.js";

export interface BatchWriter extends EventSink {
  /** Flushes everything buffered when called; rejects if one of those flushes failed. */
  flush(): Promise<void>;
  /** Flushes what is buffered, then refuses new writes. */
  close(): Promise<void>;
  /**
   * Redoes flushes a killed process left in the journal (same payload, same
   * token), before this writer takes writes. Returns how many were redone.
   */
  recover(): Promise<number>;
}

export interface BatchWriterOptions {
  store: Store;
  logger: Logger;
  registry?: Registry;
  pricer: Pricer;
  policy?: Partial<BatchPolicy>;
  /** Clock in epoch ms (tests inject one). */
  now?: () => number;
  /** Table inserted into; default llm_usage. */
  table?: string;
  /**
   * How far around a batch's event_time range to look for stored event_ids;
   * default DEDUP_WINDOW_MS (1 day). 0 scales with the batch instead of the
   * table (see dedup/stored-ids.ts for the cost).
   */
  dedupWindowMs?: number;
  /** Where flushes are noted before their insert (see FlushJournal); default none. */
  journal?: FlushJournal;
}

/** The writer refuses the call: it is closed. */
export class WriterClosedError extends Error {
  override readonly name = "WriterClosedError";
}
