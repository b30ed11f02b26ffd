import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { diffPrices, PriceBook, parseLiteLlmDocument, planVersions } from "@tokenmeter/pricing";
import type { KafkaMessage } from "kafkajs";
import pino from "pino";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { DLQ_HEADERS } from "./dlq.js";
import { createLineArena } from "./line-arena.js";
import { createKafkaMetrics } from "./metrics.js";
import { inThreadSlices, pooledSlices } from "./pooled-stager.js";
import { createStager } from "./stage.js";
import { createStagePool, type StagePool } from "./stage-pool.js";
import { packSlice, priceFeedOf } from "./stage-slice.js";
import type { StagedItem } from "./staging.js";

const NOW = Date.parse("2026-06-01T12:00:00Z");
const logger = pino({ level: "silent" });
const message = (offset: number, value: string | Buffer | null): KafkaMessage =>
  ({
    offset: String(offset),
    key: offset % 2 ? Buffer.from(`k${offset}`) : null,
    value: typeof value === "string" ? Buffer.from(value) : value,
    timestamp: "0",
    attributes: 0,
    headers: {},
  }) as KafkaMessage;

function book(inputPrice: number, version: string): PriceBook {
  const doc = { "acme-chat": { litellm_provider: "openai", mode: "chat", input_cost_per_token: inputPrice, output_cost_per_token: 8e-6 } };
  return new PriceBook(
    planVersions(diffPrices([], parseLiteLlmDocument(JSON.stringify(doc)).entries), { version, source: "test", nowMs: 0 }),
  );
}

/** 3,500 messages (four slices): priced and reported events, invalid ones (per-field reasons), non-JSON, not UTF-8, empty, null, too large. */
function mixedBatch(): KafkaMessage[] {
  const out: KafkaMessage[] = [];
  for (let i = 0; i < 3_500; i++) {
    const e = {
      event_id: randomUUID(),
      event_time: new Date(NOW - i * 1_000).toISOString(),
      org_id: `org-${i % 3}`,
      provider: "openai",
      model: "acme-chat",
      input_tokens: 100 + i,
      output_tokens: 5,
      status_code: 200,
      tags: { team: "é✓ \t\n" },
    };
    const v = [
      () => JSON.stringify(e),
      () => JSON.stringify({ ...e, cost_usd: 0.25 }),
      () => JSON.stringify({ ...e, input_tokens: -1, org_id: "" }),
      () => "{not json",
      () => Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
      () => "",
      () => null,
      () => JSON.stringify({ ...e, model: "x".repeat(3_000) }),
    ][i % 11 < 3 ? 0 : i % 8]!();
    out.push(message(1_000 + i, v));
  }
  return out;
}

/** What the insert and the DLQ see of staged items: row bytes, keys, and DLQ messages. */
function observable(items: StagedItem[]) {
  return items.map((i) =>
    "poison" in i && i.poison
      ? { offset: i.offset, bytes: i.bytes, dlq: { key: i.poison.key, value: i.poison.value, headers: i.poison.headers } }
      : {
          offset: i.offset,
          bytes: i.bytes,
          org: i.org_id,
          id: i.event_id,
          t: i.timeMs,
          p: i.partition,
          line: i.chunk.subarray(i.start, i.end).toString("utf8"),
        },
  );
}

async function stageAll(slices: ReturnType<typeof inThreadSlices>, messages: KafkaMessage[]): Promise<StagedItem[]> {
  const all: StagedItem[] = [];
  for await (const items of slices(5, messages, () => true)) all.push(...items);
  return all;
}

function stagers(pricer: PriceBook, pool: StagePool | null) {
  const registry = new Registry();
  const o = { topic: "usage", pricer, maxEventBytes: 2_000, metrics: createKafkaMetrics(registry), logger, now: () => NOW };
  const stager = createStager({ ...o, arena: createLineArena() });
  const main = { ms: 0 };
  return { slices: pool ? pooledSlices(stager, pool, o, main) : inThreadSlices(stager), registry };
}

/** The pool, counting the slices its workers staged and those it gave back to the main thread. */
function counted(p: StagePool) {
  const n = { staged: 0, givenBack: 0 };
  const pool: StagePool = {
    ...p,
    run: async (job) => {
      const r = await p.run(job);
      r ? n.staged++ : n.givenBack++;
      return r;
    },
  };
  return { pool, n };
}

let pool: StagePool | null = null;
afterEach(async () => {
  await pool?.close();
  pool = null;
});

describe("staging worker pool", () => {
  it("stages a mixed batch to the same bytes as the main thread: rows, DLQ messages with per-field reasons, metrics", async () => {
    const prices = book(2e-6, "v1");
    const messages = mixedBatch();
    const inThread = stagers(prices, null);
    const want = await stageAll(inThread.slices, messages);
    pool = createStagePool({ size: 2, feed: priceFeedOf(prices)!, logger });
    const c = counted(pool);
    const pooled = stagers(prices, c.pool);
    const got = await stageAll(pooled.slices, messages);
    expect(c.n).toEqual({ staged: 4, givenBack: 0 });
    expect(observable(got)).toEqual(observable(want));
    const kinds = new Set(want.map((i) => ("poison" in i && i.poison ? String(i.poison.headers?.[DLQ_HEADERS.kind]) : "row")));
    expect(kinds).toEqual(new Set(["row", "invalid", "undecodable", "empty", "too_large"]));
    expect(JSON.stringify(observable(want))).toContain("input_tokens");
    expect(await pooled.registry.metrics()).toEqual(await inThread.registry.metrics());
    expect(await pool.run(packSlice("usage", 5, messages.slice(0, 1_000), NOW, 2_000))).not.toBeNull();
  });

  it("prices with the main thread's table after it changes (the worker gets the new one before its next slice)", async () => {
    const prices = book(2e-6, "v1");
    pool = createStagePool({ size: 1, feed: priceFeedOf(prices)!, logger });
    const messages = mixedBatch().slice(0, 50);
    const before = await stageAll(stagers(prices, pool).slices, messages);
    prices.replace(book(4e-6, "v2").tables().versions);
    const after = await stageAll(stagers(prices, pool).slices, messages);
    expect(observable(after)).toEqual(observable(await stageAll(stagers(prices, null).slices, messages)));
    expect(observable(after)).not.toEqual(observable(before));
    expect(JSON.stringify(observable(after))).toContain("\\tv2\\t");
    // Staged by the worker, with the new table (not given back to the main thread)...
    const direct = await pool.run(packSlice("usage", 5, messages, NOW, 2_000));
    expect(Buffer.from(direct!.lines).toString()).toContain("\tv2\t");
    // ...and a slice priced with a table swapped out while it was in the worker is given back (staged again in-thread).
    const inFlight = pool.run(packSlice("usage", 5, messages, NOW, 2_000));
    prices.replace(book(5e-6, "v3").tables().versions);
    expect(await inFlight).toBeNull();
  });

  it("a worker that dies holding slices loses none: they are staged in-thread; respawns are bounded", async () => {
    // A worker that stages its first slice and exits on the second (the real worker underneath).
    const dir = mkdtempSync(join(tmpdir(), "stage-worker-"));
    const real = pathToFileURL(join(import.meta.dirname, "stage-worker-boot.mjs")).href;
    const script = join(dir, "dying.mjs");
    writeFileSync(
      script,
      [
        'import { parentPort } from "node:worker_threads";',
        "let n = 0;",
        "const on = parentPort.on.bind(parentPort);",
        // The real worker's handler sees the first slice only; from the second on, the thread dies 100 ms later.
        'parentPort.on = (ev, fn) => on(ev, (m) => ("job" in m && ++n >= 2 ? setTimeout(() => process.exit(7), 100) : fn(m)));',
        `await import(${JSON.stringify(real)});`,
      ].join("\n"),
    );
    const prices = book(2e-6, "v1");
    const messages = mixedBatch();
    const want = await stageAll(stagers(prices, null).slices, messages);
    pool = createStagePool({ size: 1, feed: priceFeedOf(prices)!, logger, maxRespawns: 2, script: pathToFileURL(script) });
    const c = counted(pool);
    for (let run = 0; run < 4; run++) {
      const got = await stageAll(stagers(prices, c.pool).slices, messages);
      expect(observable(got)).toEqual(observable(want));
    }
    // Each of the three workers staged its first slice; the slices it held when it died were staged in-thread.
    expect(c.n).toEqual({ staged: 3, givenBack: 13 });
    // Two respawns used, then no worker is left: everything is staged in-thread.
    await new Promise((r) => setTimeout(r, 200));
    expect(pool.size()).toBe(0);
    expect(observable(await stageAll(stagers(prices, pool).slices, messages))).toEqual(observable(want));
  });
});
