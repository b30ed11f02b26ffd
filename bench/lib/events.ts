import { randomUUID } from "node:crypto";
import {
  reportedOrUnpriced,
  toUsageRow,
  type UsageEvent,
  type UsageEventInput,
  type UsageRow,
  usageTsvLine,
  validateEvent,
} from "@tokenmeter/core";
import { demoEvents } from "../../apps/tokenmeter/src/demo.js";

export interface EventSetSpec {
  /** Exactly this many events. */
  events: number;
  /** Last instant covered (ms). Fixed per run so the set can be generated again, identically. */
  end: number;
  /** Span in days before `end`; ingest scenarios use a couple of days (live traffic), queries 90. */
  days: number;
  seed: number;
}

/**
 * The realistic event set of a run in chunks (the demo generator: diurnal
 * cycles, 3 orgs, 8 models, cache hits, errors, latencies), cut to exactly
 * `spec.events`. Deterministic: the same spec yields the same events, so a
 * ceiling can insert the very rows the pipeline ingested without keeping them.
 */
export function* eventSet(spec: EventSetSpec): Generator<UsageEventInput[]> {
  let left = spec.events;
  // demoEvents gives "roughly" the count asked for; top up from further seeds.
  for (let round = 0; left > 0 && round < 20; round++) {
    for (const chunk of demoEvents({
      events: Math.max(1_000, Math.ceil(left * 1.02)),
      end: spec.end,
      days: spec.days,
      seed: spec.seed + round,
    })) {
      const take = chunk.length <= left ? chunk : chunk.slice(0, left);
      left -= take.length;
      if (take.length > 0) yield take;
      if (left === 0) return;
    }
  }
  if (left > 0) throw new Error(`event generator fell ${left} events short`);
}

/**
 * The row the pipeline stores for an event (validated, priced from the
 * reported cost or left unpriced), the input of the raw-insert ceiling.
 */
export function toRow(e: UsageEventInput, now: number, source: string): UsageRow {
  const v = validated(e, now);
  return toUsageRow(v, reportedOrUnpriced.price(v), source);
}

/** The same row as {@link toRow}, as the TSV line the Kafka consumer inserts (usageTsvLine). */
export function toTsvLine(e: UsageEventInput, now: number, source: string): string {
  const v = validated(e, now);
  return usageTsvLine(v, reportedOrUnpriced.price(v), source);
}

function validated(e: UsageEventInput, now: number): UsageEvent {
  const v = validateEvent(e, { now });
  if (!v.ok) throw new Error(`generated event is invalid: ${JSON.stringify(v.errors)}`);
  return v.event;
}

/**
 * A live event (event_time = now) for steady-rate scenarios: realistic fields
 * from a template of the event set, fresh id and clock.
 */
export function liveEvent(template: UsageEventInput, now: number, overrides: Partial<UsageEventInput> = {}): UsageEventInput {
  return { ...template, event_id: randomUUID(), event_time: new Date(now).toISOString(), ...overrides };
}

/** A pool of realistic templates to cycle through for live traffic. */
export function templates(count: number, seed = 7): UsageEventInput[] {
  const out: UsageEventInput[] = [];
  for (const chunk of eventSet({ events: count, end: Date.now(), days: 2, seed })) out.push(...chunk);
  return out;
}
