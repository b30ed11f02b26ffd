/**
 * The ingest cost path alone, before / after exact money and the cost
 * breakdown (issue 16): N demo events (with their tags) are validated, priced
 * against the bundled price list and written as llm_usage TSV lines (the
 * consumer's per-event work), then inserted into a fresh chDB store with
 * every rollup view in 10k-row blocks (what the writer does per batch).
 * Prints JS CPU µs/event, insert events/s and engine CPU µs/event, as JSON.
 * Each line goes into a byte arena as it is made, as the Kafka consumer's
 * stage does (services/ingest/src/kafka/line-arena.ts, copied here so the file
 * runs on commits before it): keeping 100k lines as JS strings instead made
 * the "JS" figure mostly GC of their concatenation trees, which the consumer
 * never pays (docs/benchmarks.md §12a). `--strings=1` measures that old way.
 * Uses only APIs that exist before and after the change, so the same file
 * runs on both commits:
 *
 *   node --import tsx bench/cost-path.ts --events=200000 --data-dir=/tmp/x
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbStore, migrate } from "@tokenmeter/clickhouse";
import { USAGE_TSV_HEADER, type UsageEvent, usageTsvLine, validateEvent } from "@tokenmeter/core";
import { PriceBook, parseLiteLlmDocument, readBundledSnapshot } from "@tokenmeter/pricing";
import { benchArgs } from "./lib/args.js";
import { eventSet } from "./lib/events.js";

const args = benchArgs();
const n = Number(args.options.events ?? 200_000);
const dataDir = args.options["data-dir"] ?? mkdtempSync(join(tmpdir(), "tokenmeter-cost-path-"));
const now = Date.now();

// 1. Events (generation is not measured).
// Without tags: the demo gained tags with v1.1, and this measures the money columns, not the tags.
const inputs = [...eventSet({ events: n, end: now - 60_000, days: 2, seed: 16 })].flat().map(({ tags: _tags, ...e }) => e);
const book = new PriceBook(
  parseLiteLlmDocument(readBundledSnapshot()).entries.map((e) => ({ ...e, effective_from_ms: 0, version: "bench", source: "bundled" })),
);

// 2. JS per event: validate + price + TSV line, written into the arena (3 rounds, the best kept: the machine is shared).
const strings = args.options.strings !== undefined;
type Ref = { chunk: Buffer; start: number; end: number };
const newArena = () => {
  let chunk = Buffer.allocUnsafe(1 << 20);
  let used = 0;
  return (line: string): Ref => {
    if (used + line.length * 3 > chunk.length) {
      chunk = Buffer.allocUnsafe(Math.max(1 << 20, line.length * 3));
      used = 0;
    }
    const start = used;
    used += chunk.write(line, used, "utf8");
    return { chunk, start, end: used };
  };
};
let lines: string[] = [];
let refs: Ref[] = [];
let jsUs = Number.POSITIVE_INFINITY;
for (let round = 0; round < 3; round++) {
  const cpu0 = process.cpuUsage();
  const add = newArena();
  const out: string[] = strings ? new Array(inputs.length) : [];
  const outRefs: Ref[] = strings ? [] : new Array(inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    const v = validateEvent(inputs[i], { now });
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    const e: UsageEvent = v.event;
    const line = usageTsvLine(e, book.price(e), "bench");
    if (strings) out[i] = line;
    else outRefs[i] = add(line);
  }
  const cpu = process.cpuUsage(cpu0);
  jsUs = Math.min(jsUs, (cpu.user + cpu.system) / inputs.length);
  lines = out;
  refs = outRefs;
}
const header = Buffer.from(USAGE_TSV_HEADER);
/** Rows [from, to) as one payload: the arena ranges copied once after the header (the consumer's joinLines). */
const payload = (from: number, to: number): Buffer | string => {
  if (strings) return USAGE_TSV_HEADER + lines.slice(from, to).join("");
  const part = refs.slice(from, to);
  const out = Buffer.allocUnsafe(header.length + part.reduce((s, r) => s + r.end - r.start, 0));
  let at = header.copy(out, 0);
  for (const r of part) at += r.chunk.copy(out, at, r.start, r.end);
  return out;
};

// 3. Insert into the raw table and its views, 10k rows a block.
const store = await ChdbStore.open({ dataDir, database: "bench" });
await migrate(store);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < n; i += 10_000) {
  await store.insert("llm_usage", payload(i, Math.min(n, i + 10_000)), { format: "TabSeparatedWithNames" });
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const [check] = await store.query<{ n: number }>("SELECT count() AS n FROM llm_usage");
await store.close();
if (!args.options["data-dir"]) rmSync(dataDir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    events: n,
    stored: Number(check?.n),
    js_cpu_us_per_event: Math.round(jsUs * 100) / 100,
    insert_events_per_s: Math.round(n / (ms / 1000)),
    insert_cpu_us_per_event: Math.round(((cpu.user + cpu.system) / n) * 100) / 100,
    tsv_bytes_per_event: Math.round(
      (strings ? lines.reduce((s, l) => s + l.length, 0) : refs.reduce((s, r) => s + r.end - r.start, 0)) / n,
    ),
  }),
);
