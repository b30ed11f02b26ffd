import { reportedOrUnpriced, toUsageRow, type UsageEvent, type UsageRow, validateEvent } from "@tokenmeter/core";
import { templates } from "./events.js";
import { round } from "./stats.js";

export interface StageCost {
  stage: string;
  us_per_event: number;
}

/**
 * The JS stages every ingested event goes through, timed one at a time on
 * the same realistic events (second pass, after a warm-up pass): what the
 * profile's top entries cost per event in isolation, and so the rate one core
 * could sustain on the JS side alone.
 */
export function stageCosts(count = 50_000): StageCost[] {
  const pool = templates(count);
  const messages = pool.map((e) => Buffer.from(JSON.stringify(e)));
  const now = Date.now();
  let decoded: unknown[] = [];
  let events: UsageEvent[] = [];
  let rows: UsageRow[] = [];
  const stages: [string, () => void][] = [
    ["decode: JSON.parse(message bytes)", () => (decoded = messages.map((b) => JSON.parse(b.toString("utf8"))))],
    [
      "validate: validateEvent (zod schema v1)",
      () => (events = decoded.map((d) => validateEvent(d, { now })).flatMap((v) => (v.ok ? [v.event] : []))),
    ],
    ["price + toUsageRow", () => (rows = events.map((e) => toUsageRow(e, reportedOrUnpriced.price(e), "kafka:t:0:0")))],
    ["encode: JSON.stringify(row) + newline", () => rows.map((r) => `${JSON.stringify(r)}\n`)],
    ["Buffer.byteLength of the line", () => rows.map((r) => Buffer.byteLength(`${JSON.stringify(r)}\n`))],
  ];
  const out: StageCost[] = [];
  for (const [stage, fn] of stages) {
    fn();
    const t0 = performance.now();
    fn();
    out.push({ stage, us_per_event: round(((performance.now() - t0) * 1000) / count, 2) });
  }
  // byteLength was measured with a second stringify; report only its own share.
  const enc = out[3]!.us_per_event;
  out[4]!.us_per_event = round(Math.max(0, out[4]!.us_per_event - enc), 2);
  return out;
}
