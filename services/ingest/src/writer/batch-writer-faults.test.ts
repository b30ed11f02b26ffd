import { randomUUID } from "node:crypto";
import { reportedOrUnpriced, type UsageEvent, validateEvent } from "@tokenmeter/core";
import { pino } from "pino";
import { expect, it } from "vitest";
import { dropTestStore, openTestStore } from "../../../../test/support/store.js";
import { expectExactly } from "../../../../test/support/totals.js";
import { FaultyStore } from "../fault-store.js";
import { createBatchWriter } from "./batch-writer.js";

const T = Date.parse("2026-06-01T12:00:00Z");

/** Deterministic PRNG (mulberry32), so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeEvents(n: number, random: () => number): UsageEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const r = validateEvent(
      {
        event_id: randomUUID(),
        event_time: new Date(T - Math.floor(random() * 48 * 3600_000)).toISOString(),
        org_id: `org${i % 3}`,
        provider: "openai",
        model: i % 2 ? "gpt-4o" : "o3",
        input_tokens: 100 + i,
        output_tokens: 10 + (i % 7),
        reasoning_tokens: i % 7,
        cost_usd: i % 4 === 0 ? 0.001 * i : undefined,
        duration_ms: 50 + i,
        status_code: i % 10 === 0 ? 500 : 200,
      },
      { now: T },
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.event;
  });
}

it("stores every event exactly once in raw and rollups under random insert failures, timeouts and re-sends", async () => {
  const random = prng(7);
  const inner = await openTestStore();
  try {
    const store = new FaultyStore(inner, { failRate: 0.3, timeoutRate: 0.3, maxDelayMs: 5, random });
    const policy = { maxRows: 50, maxDelayMs: 5, maxAttempts: 1, retryMinMs: 1, retryMaxMs: 5 };
    const w = createBatchWriter({ store, logger: pino({ level: "silent" }), pricer: reportedOrUnpriced, policy });
    const events = makeEvents(600, random);
    // 20 clients; each sends chunks of 30, a third of them with re-sends of earlier events, and
    // retries a rejected chunk (as an HTTP client does on 503) until it is acknowledged.
    let failedAttempts = 0;
    const client = async (c: number) => {
      for (let start = c * 30; start < events.length; start += 20 * 30) {
        const chunk = events.slice(start, start + 30);
        if (start > 0 && random() < 0.33) chunk.push(...events.slice(start - 10, start));
        for (let attempt = 1; ; attempt++) {
          try {
            await w.write(chunk);
            break;
          } catch (err) {
            failedAttempts++;
            if (attempt >= 50) throw err;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, c) => client(c)));
    await w.close();
    expect(failedAttempts).toBeGreaterThan(0);
    await expectExactly(inner, events);
  } finally {
    await dropTestStore(inner);
  }
});
