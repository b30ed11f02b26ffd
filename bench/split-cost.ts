/**
 * What a row the engine refuses costs a batch (docs/benchmarks.md §9): one
 * batching-writer flush of N rows on chDB, clean, and with 1 and 5 rows the
 * engine refuses (a real data error, the FaultyStore's refuse marker), so the
 * flush is split around them (services/ingest/src/bisect.ts). Prints the
 * flush time and the inserts each took, and a JSON line.
 *
 *   tsx bench/split-cost.ts [--rows 20000] [--runs 3]
 */
import { randomUUID } from "node:crypto";
import type { InsertOptions, Store } from "@tokenmeter/clickhouse";
import { reportedOrUnpriced, type UsageEvent, validateEvent } from "@tokenmeter/core";
import { pino } from "pino";
import { FaultyStore } from "../services/ingest/src/fault-store.js";
import { createBatchWriter } from "../services/ingest/src/writer/batch-writer.js";
import { benchDataDir, countRows, openBenchStore, removeDataDir } from "./lib/chdb.js";

const MARKER = "refuse-me-bench";
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROWS = arg("rows", 20_000);
const RUNS = arg("runs", 3);

function events(n: number, refused: number): UsageEvent[] {
  const now = Date.now();
  const bad = new Set(Array.from({ length: refused }, (_, i) => Math.floor(((i + 0.5) * n) / refused)));
  return Array.from({ length: n }, (_, i) => {
    const v = validateEvent(
      {
        event_id: randomUUID(),
        event_time: new Date(now - 60_000 - i).toISOString(),
        org_id: `org-${i % 20}`,
        agent_id: bad.has(i) ? MARKER : `agent-${i % 30}`,
        user_id: `user-${i % 500}`,
        provider: "openai",
        model: "gpt-4o",
        input_tokens: 1_000 + (i % 100),
        output_tokens: 200,
        duration_ms: 900,
        status_code: 200,
      },
      { now },
    );
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    return v.event;
  });
}

/** Counts inserts on the way to the store. */
function counting(inner: Store): Store & { inserts: number } {
  const s = {
    inserts: 0,
    database: inner.database,
    query: inner.query.bind(inner),
    command: inner.command.bind(inner),
    close: inner.close.bind(inner),
    insert(table: string, rows: readonly object[] | Buffer | string, opts?: InsertOptions) {
      s.inserts++;
      return inner.insert(table, rows, opts);
    },
  };
  return s as Store & { inserts: number };
}

const dataDir = benchDataDir("split-cost");
const store = await openBenchStore(dataDir, "split_cost");
const logger = pino({ level: "silent" });
const results: Array<{ refused: number; run: number; ms: number; inserts: number }> = [];
try {
  for (let run = 1; run <= RUNS; run++) {
    for (const refused of [0, 1, 5]) {
      const inner = counting(store);
      const writer = createBatchWriter({
        store: new FaultyStore(inner, { failRate: 0, timeoutRate: 0, maxDelayMs: 0, refuseMarker: MARKER }),
        logger,
        pricer: reportedOrUnpriced,
        policy: { maxRows: 1_000_000, maxBytes: 64 * 1024 * 1024, maxBufferedBytes: 64 * 1024 * 1024, maxDelayMs: 600_000, idleMs: 0 },
      });
      const write = writer.write(events(ROWS, refused));
      const t0 = performance.now();
      await writer.flush();
      const ms = performance.now() - t0;
      const r = await write;
      await writer.close();
      if (r.accepted !== ROWS - refused || (r.refused?.length ?? 0) !== refused) throw new Error(`unexpected ${JSON.stringify(r)}`);
      results.push({ refused, run, ms: Math.round(ms), inserts: inner.inserts });
      process.stdout.write(`run ${run}: ${ROWS} rows, ${refused} refused: flush ${Math.round(ms)} ms, ${inner.inserts} inserts\n`);
    }
  }
  process.stdout.write(`stored ${await countRows(store)} rows\n`);
  process.stdout.write(`${JSON.stringify({ bench: "split-cost", rows: ROWS, results })}\n`);
} finally {
  await store.close();
  removeDataDir(dataDir);
}
