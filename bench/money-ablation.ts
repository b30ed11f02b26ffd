/**
 * What exact money and the cost breakdown cost the ingest path (issue 16:
 * "the exact type and the breakdown must not cost more than 10 %"), measured
 * against the same product without them rather than against an old commit
 * (an old commit also lacks every other v1.1 column, which would be charged
 * to money).
 *
 * Engine: the same N priced llm_usage TSV lines (what the consumer writes) are
 * inserted in blocks (`--block`, default 10k rows) into fresh chDB stores migrated with variants of
 * clickhouse/schema, derived here by text edits of the migration files:
 *   current     — the schema as shipped;
 *   no-money    — cost_usd Float64 and no breakdown column or sum anywhere
 *                 (the product without the two features);
 *   sketches    — the schema before 0014 (hourly t-digest states kept);
 *   no-money+sketches — both: the ingest path as it was before issue 16's
 *                 money work and issue 20's sketch drop.
 * Every variant reads the same lines with input_format_skip_unknown_fields=1
 * (the no-money stores lack the breakdown columns), rounds interleaved, medians
 * printed. JS: the money text of each line (cost as 12-decimal text plus the
 * six breakdown fields, written into a byte arena as the consumer does)
 * against the plain cost number, timed over the same priced events.
 *
 *   node --import tsx bench/money-ablation.ts --events=100000 --rounds=7
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbStore, loadMigrations, migrate, SCHEMA_DIR } from "@tokenmeter/clickhouse";
import { type PricedCost, USAGE_TSV_HEADER, type UsageEvent, usageTsvLine, usdText, validateEvent } from "@tokenmeter/core";
import { PriceBook, parseLiteLlmDocument, readBundledSnapshot } from "@tokenmeter/pricing";
import { benchArgs } from "./lib/args.js";
import { eventSet } from "./lib/events.js";

const args = benchArgs();
const n = Number(args.options.events ?? 100_000);
const rounds = Number(args.options.rounds ?? 7);
// Rows per insert: 10k by default; the Kafka consumer's plans go up to 200k, the HTTP writer's are smaller.
const block = Number(args.options.block ?? 10_000);
const now = Date.now();

// 1. The events, priced, as the consumer's lines (not measured). Tags stripped: this measures money, not tags.
const inputs = [...eventSet({ events: n, end: now - 60_000, days: 2, seed: 16 })].flat().map(({ tags: _tags, ...e }) => e);
const book = new PriceBook(
  parseLiteLlmDocument(readBundledSnapshot()).entries.map((e) => ({ ...e, effective_from_ms: 0, version: "bench", source: "bundled" })),
);
const priced: Array<{ e: UsageEvent; cost: PricedCost }> = inputs.map((x) => {
  const v = validateEvent(x, { now });
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return { e: v.event, cost: book.price(v.event) };
});
const blocks: Buffer[] = [];
for (let i = 0; i < n; i += block) {
  const lines = priced.slice(i, i + block).map(({ e, cost }) => usageTsvLine(e, cost, "bench"));
  blocks.push(Buffer.from(USAGE_TSV_HEADER + lines.join("")));
}

// 2. The schema variants, as migration directories.
const BREAKDOWN = /^.*cost_(input|cached_input|cache_write|output|reasoning|units)_usd.*\n/gm;
function noMoney(sql: string): string {
  return (
    sql
      .replace(BREAKDOWN, "")
      .replace(/Decimal\(38, 12\)/g, "Float64")
      // A list whose last items were removed: its trailing comma goes, so the statement still parses.
      .replace(/,(\s*\n\s*)(FROM|;)/g, "$1$2")
      .replace(/(AFTER image_size),/, "$1;")
      .replace(/(MODIFY COLUMN cost_usd (?:Float64|SimpleAggregateFunction\(sum, Float64\))),(\s*\n\s*\n)/g, "$1;$2")
  );
}
const root = mkdtempSync(join(tmpdir(), "tokenmeter-money-ablation-"));
function variant(name: string, edit: (sql: string) => string, keep: (file: string) => boolean): string {
  const dir = join(root, name);
  mkdirSync(dir);
  for (const f of readdirSync(SCHEMA_DIR).filter((f) => f.endsWith(".sql") && keep(f))) {
    writeFileSync(join(dir, f), edit(readFileSync(join(SCHEMA_DIR, f), "utf8")));
  }
  return dir;
}
const all = () => true;
const beforeSketchDrop = (f: string) => !f.startsWith("0014_");
const variants: Record<string, string> = {
  current: variant("current", (s) => s, all),
  "no-money": variant("no-money", noMoney, all),
  sketches: variant("sketches", (s) => s, beforeSketchDrop),
  "no-money+sketches": variant("no-money+sketches", noMoney, beforeSketchDrop),
};

// 3. Engine CPU per event, rounds interleaved so a load change hits every variant alike.
const engine: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
const sums: Record<string, string> = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, dir] of Object.entries(variants)) {
    const dataDir = mkdtempSync(join(root, "store-"));
    const store = await ChdbStore.open({ dataDir, database: "bench" });
    await migrate(store, loadMigrations(dir));
    const cpu0 = process.cpuUsage();
    for (const b of blocks) {
      await store.insert("llm_usage", b, { format: "TabSeparatedWithNames", settings: { input_format_skip_unknown_fields: 1 } });
    }
    const cpu = process.cpuUsage(cpu0);
    const [check] = await store.query<{ n: number; cost: string }>("SELECT count() AS n, toString(sum(cost_usd)) AS cost FROM llm_usage");
    if (Number(check?.n) !== n) throw new Error(`${name}: stored ${check?.n} of ${n}`);
    sums[name] = String(check?.cost);
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
    engine[name]?.push((cpu.user + cpu.system) / n);
  }
}
rmSync(root, { recursive: true, force: true });

// 4. JS: the money part of each line, with and without exact text and the breakdown (best of 5).
function arenaTime(text: (cost: PricedCost) => string): number {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    let chunk = Buffer.allocUnsafe(1 << 20);
    let used = 0;
    const cpu0 = process.cpuUsage();
    for (const { cost } of priced) {
      const s = text(cost);
      if (used + s.length * 3 > chunk.length) {
        chunk = Buffer.allocUnsafe(1 << 20);
        used = 0;
      }
      used += chunk.write(s, used, "latin1");
    }
    const cpu = process.cpuUsage(cpu0);
    best = Math.min(best, (cpu.user + cpu.system) / n);
  }
  return best;
}
const b = (x: number | undefined) => usdText(x ?? 0);
const exactText = arenaTime(
  (c) =>
    `${usdText(c.cost_usd)}\t${c.breakdown ? `${b(c.breakdown.input)}\t${b(c.breakdown.cached_input)}\t${b(c.breakdown.cache_write)}\t${b(c.breakdown.output)}\t${b(c.breakdown.reasoning)}\t${b(c.breakdown.units)}` : "0\t0\t0\t0\t0\t0"}\t`,
);
const floatText = arenaTime((c) => `${c.cost_usd}\t`);

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? Number.NaN;
const r2 = (x: number) => Math.round(x * 100) / 100;
const med = Object.fromEntries(Object.entries(engine).map(([k, xs]) => [k, r2(median(xs))]));
const pct = (a: number, b: number) => `${Math.round((a / b - 1) * 1000) / 10} %`;
console.log(
  JSON.stringify({
    events: n,
    rounds,
    block,
    engine_us_per_event_median: med,
    engine_us_per_event_runs: Object.fromEntries(Object.entries(engine).map(([k, xs]) => [k, xs.map(r2)])),
    money_text_js_us_per_event: { exact_with_breakdown: r2(exactText), float_only: r2(floatText) },
    exact_money_and_breakdown_engine: pct(med.current ?? 0, med["no-money"] ?? 0),
    sketch_drop_engine: pct(med.current ?? 0, med.sketches ?? 0),
    current_vs_before_issue16_money_engine: pct(med.current ?? 0, med["no-money+sketches"] ?? 0),
    cost_usd_sums: sums,
  }),
);
