import { createHash } from "node:crypto";
import type { Store } from "@tokenmeter/clickhouse";
import { z } from "zod";
import { Definitions, type Stored } from "../budgets/definitions.js";
import { type AlertRule, StoredRule } from "./model.js";
import { NOTIFICATION_TYPES, type Notification } from "./notify.js";

export type RuleRepo = Definitions<StoredRule>;
export const ruleRepo = (store: Store): RuleRepo => new Definitions(store, "alert_rules", StoredRule);
export const toRule = (s: Stored<StoredRule>): AlertRule => ({
  id: s.id,
  org_id: s.org_id,
  ...s.definition,
  created_at: s.created_at,
  updated_at: s.updated_at,
});

const chTime = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");
const msOf = (ch: string) => Date.parse(`${ch.replace(" ", "T")}Z`);

const EventRow = z.object({
  org_id: z.string(),
  id: z.string(),
  rule_id: z.string(),
  group_key: z.string(),
  type: z.enum(NOTIFICATION_TYPES),
  episode_s: z.string(),
  occurred_s: z.string(),
  payload: z.string(),
});

// Aliases differ from the columns so WHERE and ORDER BY still see the DateTime64 columns.
const SELECT_EVENT = `SELECT org_id, id, rule_id, group_key, type, toString(episode) AS episode_s, toString(occurred_at) AS occurred_s, payload FROM alert_events FINAL`;

function toNotification(raw: unknown): Notification {
  const r = EventRow.parse(raw);
  return {
    id: r.id,
    type: r.type,
    org_id: r.org_id,
    rule_id: r.rule_id,
    group_key: r.group_key,
    episode: msOf(r.episode_s),
    occurred_at: msOf(r.occurred_s),
    data: z.record(z.string(), z.unknown()).parse(JSON.parse(r.payload)),
  };
}

/** Notifications: the history, and the outbox deliveries are queued from. */
export class EventRepo {
  constructor(private readonly store: Store) {}

  /**
   * Writes notifications in one insert. A repeat of the same ids is dropped
   * by the dedup token (the ids joined), and any row written twice collapses
   * on read (FINAL: the id is in the sorting key).
   */
  async insert(ns: readonly Notification[]): Promise<void> {
    if (ns.length === 0) return;
    const rows = ns.map((n) => ({
      org_id: n.org_id,
      id: n.id,
      rule_id: n.rule_id,
      group_key: n.group_key,
      type: n.type,
      episode: chTime(n.episode),
      occurred_at: chTime(n.occurred_at),
      payload: JSON.stringify(n.data),
    }));
    const token = createHash("sha256")
      .update(ns.map((n) => n.id).join(","))
      .digest("hex");
    await this.store.insert("alert_events", rows, { settings: { insert_deduplication_token: token } });
  }

  /** Which of these ids already exist (the evaluator skips them). */
  async existing(org_id: string, ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.store.query<{ id: string }>(
      "SELECT DISTINCT id FROM alert_events WHERE org_id = {org_id:String} AND id IN {ids:Array(String)}",
      { org_id, ids },
    );
    return new Set(rows.map((r) => String(r.id)));
  }

  /** A metric rule's state per group: the last transition written (none: ok). */
  async lastTransitions(org_id: string, rule_id: string): Promise<Map<string, { type: string; episode: number }>> {
    const rows = await this.store.query<{ group_key: string; last_type: string; last_episode: string }>(
      `SELECT group_key, argMax(type, occurred_at) AS last_type, toString(argMax(episode, occurred_at)) AS last_episode
       FROM alert_events WHERE org_id = {org_id:String} AND rule_id = {rule_id:String}
         AND type IN ('alert.triggered', 'alert.resolved') GROUP BY group_key`,
      { org_id, rule_id },
    );
    return new Map(rows.map((r) => [String(r.group_key), { type: String(r.last_type), episode: msOf(String(r.last_episode)) }]));
  }

  async get(org_id: string, id: string): Promise<Notification | undefined> {
    const rows = await this.store.query(`${SELECT_EVENT} WHERE org_id = {org_id:String} AND id = {id:String}`, { org_id, id });
    return rows[0] ? toNotification(rows[0]) : undefined;
  }

  /** One org's history, newest first. */
  async list(org_id: string, opts: { rule_id?: string; limit: number }): Promise<Notification[]> {
    const rule = opts.rule_id ? " AND rule_id = {rule_id:String}" : "";
    const rows = await this.store.query(
      `${SELECT_EVENT} WHERE org_id = {org_id:String}${rule} ORDER BY occurred_at DESC, id LIMIT {limit:UInt32}`,
      { org_id, limit: opts.limit, ...(opts.rule_id ? { rule_id: opts.rule_id } : {}) },
    );
    return rows.map(toNotification);
  }

  /** Every org's notifications since `from` (the outbox sweep). */
  async since(from: number): Promise<Notification[]> {
    const rows = await this.store.query(
      `${SELECT_EVENT} WHERE occurred_at >= {from:DateTime64(3, 'UTC')} ORDER BY occurred_at LIMIT 100000`,
      {
        from: new Date(from),
      },
    );
    return rows.map(toNotification);
  }
}

export const DELIVERY_STATUSES = ["delivered", "failed", "gave_up", "refused"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface DeliveryAttempt {
  org_id: string;
  delivery_id: string;
  event_id: string;
  rule_id: string;
  channel: number;
  channel_type: string;
  attempt: number;
  status: DeliveryStatus;
  response_code: number;
  error: string;
  at: number;
  next_attempt_at: number | null;
}

const AttemptRow = z.object({
  org_id: z.string(),
  delivery_id: z.string(),
  event_id: z.string(),
  rule_id: z.string(),
  channel: z.coerce.number(),
  channel_type: z.string(),
  attempt: z.coerce.number(),
  status: z.enum(DELIVERY_STATUSES),
  response_code: z.coerce.number(),
  error: z.string(),
  at: z.string(),
  next_attempt_at: z.string().nullable(),
});

/** The delivery log: one row per attempt. */
export class DeliveryRepo {
  constructor(private readonly store: Store) {}

  async log(a: DeliveryAttempt): Promise<void> {
    await this.store.insert("alert_deliveries", [
      { ...a, at: chTime(a.at), next_attempt_at: a.next_attempt_at === null ? null : chTime(a.next_attempt_at) },
    ]);
  }

  async list(org_id: string, opts: { event_id?: string; delivery_id?: string; limit: number }): Promise<DeliveryAttempt[]> {
    const where = [
      "org_id = {org_id:String}",
      ...(opts.event_id ? ["event_id = {event_id:String}"] : []),
      ...(opts.delivery_id ? ["delivery_id = {delivery_id:String}"] : []),
    ].join(" AND ");
    const rows = await this.store.query(
      `SELECT org_id, delivery_id, event_id, rule_id, channel, channel_type, attempt, status, response_code, error,
              toString(at) AS at, if(isNull(next_attempt_at), NULL, toString(next_attempt_at)) AS next_attempt_at
       FROM alert_deliveries WHERE ${where} ORDER BY at DESC, delivery_id, attempt DESC LIMIT {limit:UInt32}`,
      {
        org_id,
        limit: opts.limit,
        ...(opts.event_id ? { event_id: opts.event_id } : {}),
        ...(opts.delivery_id ? { delivery_id: opts.delivery_id } : {}),
      },
    );
    return rows.map((raw) => {
      const r = AttemptRow.parse(raw);
      return { ...r, at: msOf(r.at), next_attempt_at: r.next_attempt_at === null ? null : msOf(r.next_attempt_at) };
    });
  }

  /** The latest attempt of every delivery of these events (the outbox sweep). */
  async latest(
    event_ids: readonly string[],
  ): Promise<Map<string, { attempt: number; status: DeliveryStatus; next_attempt_at: number | null }>> {
    if (event_ids.length === 0) return new Map();
    const rows = await this.store.query<Record<string, unknown>>(
      `SELECT delivery_id, max(attempt) AS last_attempt, argMax(status, attempt) AS last_status,
              toString(argMax(next_attempt_at, attempt)) AS next_at
       FROM alert_deliveries WHERE event_id IN {ids:Array(String)} GROUP BY delivery_id`,
      { ids: event_ids },
    );
    return new Map(
      rows.map((r) => [
        String(r.delivery_id),
        {
          attempt: Number(r.last_attempt),
          status: String(r.last_status) as DeliveryStatus,
          next_attempt_at: r.next_at && r.next_at !== "\\N" ? msOf(String(r.next_at)) : null,
        },
      ]),
    );
  }
}
