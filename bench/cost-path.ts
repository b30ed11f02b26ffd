/**
 * The ingest cost path alone, before / after exact money and the cost
 * breakdown (issue 16): N demo events (with their tags) are validated, priced
 * against the bundled price list and written as llm_usage TSV lines (the
 * consumer's per-event work), then inserted into a fresh chDB store with
 * every rollup view in 10k-row blocks (what the writer does per batch).
 * Prints JS CPU µs/event, insert events/s and engine CPU µs/event, as JSON.
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

// 2. JS per event: validate + price + TSV line (3 rounds, the best kept: the machine is shared).
let lines: string[] = [];
let jsUs = Number.POSITIVE_INFINITY;
for (let round = 0; round < 3; round++) {
  const cpu0 = process.cpuUsage();
  const out: string[] = new Array(inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    const v = validateEvent(inputs[i], { now });
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    const e: UsageEvent = v.event;
    out[i] = usageTsvLine(e, book.price(e), "bench");
  }
  const cpu = process.cpuUsage(cpu0);
  jsUs = Math.min(jsUs, (cpu.user + cpu.system) / inputs.length);
  lines = out;
}

// 3. Insert into the raw table and its views, 10k rows a block.
const store = await ChdbStore.open({ dataDir, database: "bench" });
await migrate(store);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < lines.length; i += 10_000) {
  const body = USAGE_TSV_HEADER + lines.slice(i, i + 10_000).join("");
  await store.insert("llm_usage", body, { format: "TabSeparatedWithNames" });
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
    tsv_bytes_per_event: Math.round(lines.reduce((s, l) => s + l.length, 0) / n),
  }),
);
