import type { Redis } from "ioredis";
import { admits } from "./window.js";

/** One budget (and group) a call is checked against. `key` names it uniquely across orgs. */
export interface HoldLine {
  key: string;
  spent: number;
  limit: number;
  hard: boolean;
  estimate: number;
}

export interface HoldRequest {
  org_id: string;
  lines: HoldLine[];
  /** Hold the estimate under this idempotency key, for ttlMs, when every hard line admits it. */
  reservation?: { id: string; ttlMs: number };
  now: number;
}

export interface HoldResult {
  allowed: boolean;
  /** Amounts other reservations hold, per line (the call's own reservation excluded). */
  held: number[];
  /** The estimate is now held under the reservation id. */
  reserved: boolean;
}

/**
 * Estimates held for calls in flight, so N concurrent calls cannot all pass
 * under a cap: the check and the hold are one atomic step (a Lua script in
 * Redis, a synchronous section in memory). Holding the same id again refreshes
 * it instead of counting twice.
 */
export interface Reservations {
  hold(req: HoldRequest): Promise<HoldResult>;
  /** Drops a reservation (the call finished or was abandoned); false when there was none. */
  release(org_id: string, id: string): Promise<boolean>;
  /**
   * Up to `limit` of the org's live reservation ids that are UUIDs: the ones a
   * usage event can carry as its event_id, and so settle (see snapshot.ts).
   */
  pending(org_id: string, now: number, limit: number): Promise<string[]>;
}

/** The longest hold a check can ask for (CheckInput.ttl_seconds). */
const MAX_TTL_MS = 3_600_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether an idempotency key can be an event's id (llm_usage.event_id is a UUID). */
export const isUuid = (id: string): boolean => UUID.test(id);

/** The single-process default: a map per line; expired holds are swept when a line is read. */
export class MemoryReservations implements Reservations {
  private readonly lines = new Map<string, Map<string, { amount: number; expires: number }>>();
  private readonly index = new Map<string, { keys: string[]; expires: number }>();

  async hold(req: HoldRequest): Promise<HoldResult> {
    const own = req.reservation ? `${req.org_id}\u0000${req.reservation.id}` : undefined;
    const keys = req.lines.map((l) => `${req.org_id}\u0000${l.key}`);
    const held = keys.map((k) => this.heldOn(k, req.now, own));
    const allowed = req.lines.every((l, i) => !l.hard || admits(l.spent, held[i] as number, l.estimate, l.limit));
    if (!allowed || !req.reservation || !own) return { allowed, held, reserved: false };
    const expires = req.now + req.reservation.ttlMs;
    req.lines.forEach((l, i) => {
      const key = keys[i] as string;
      const line = this.lines.get(key) ?? new Map<string, { amount: number; expires: number }>();
      this.lines.set(key, line);
      line.set(own, { amount: l.estimate, expires });
    });
    this.index.set(own, { keys, expires });
    return { allowed, held, reserved: true };
  }

  async release(org_id: string, id: string): Promise<boolean> {
    const own = `${org_id}\u0000${id}`;
    const entry = this.index.get(own);
    if (!entry) return false;
    for (const k of entry.keys) this.lines.get(k)?.delete(own);
    this.index.delete(own);
    return true;
  }

  async pending(org_id: string, now: number, limit: number): Promise<string[]> {
    const prefix = `${org_id}\u0000`;
    const ids: string[] = [];
    for (const [own, entry] of this.index) {
      if (ids.length >= limit) break;
      if (!own.startsWith(prefix) || entry.expires <= now) continue;
      const id = own.slice(prefix.length);
      if (isUuid(id)) ids.push(id);
    }
    return ids;
  }

  private heldOn(key: string, now: number, own: string | undefined): number {
    const line = this.lines.get(key);
    if (!line) return 0;
    let sum = 0;
    for (const [id, h] of line) {
      if (h.expires <= now) {
        line.delete(id);
        this.index.delete(id);
      } else if (id !== own) sum += h.amount;
    }
    if (line.size === 0) this.lines.delete(key);
    return sum;
  }
}

/**
 * Per line a sorted set (member = reservation id, score = expiry) and a hash
 * (id → amount). Sweeps expired holds, sums the rest (the caller's own id
 * excluded), decides, and holds on every line only if all hard lines admit.
 * ARGV: now, expires, id ('' = no hold), ttl ms, n, then per line spent, limit, hard, estimate.
 */
const HOLD_SCRIPT = `
local now = tonumber(ARGV[1]); local expires = tonumber(ARGV[2]); local id = ARGV[3]
local ttl = tonumber(ARGV[4]); local n = tonumber(ARGV[5])
local held = {}; local allowed = 1
for i = 1, n do
  local z = KEYS[2 * i - 1]; local h = KEYS[2 * i]
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
    for _, g in ipairs(gone) do redis.call('HDEL', h, g) end
  end
  local vals = redis.call('HGETALL', h); local sum = 0
  for j = 1, #vals, 2 do if vals[j] ~= id then sum = sum + tonumber(vals[j + 1]) end end
  held[i] = tostring(sum)
  local b = 5 + (i - 1) * 4
  local spent = tonumber(ARGV[b + 1]); local limit = tonumber(ARGV[b + 2]); local est = tonumber(ARGV[b + 4])
  if ARGV[b + 3] == '1' and (spent + sum >= limit or spent + sum + est > limit) then allowed = 0 end
end
local reserved = 0
if allowed == 1 and id ~= '' then
  for i = 1, n do
    local z = KEYS[2 * i - 1]; local h = KEYS[2 * i]
    redis.call('ZADD', z, expires, id); redis.call('HSET', h, id, ARGV[5 + (i - 1) * 4 + 4])
    -- Lines are shared by holds of different TTLs: only ever lengthen their life.
    if redis.call('PTTL', z) < ttl + 60000 then redis.call('PEXPIRE', z, ttl + 60000) end
    if redis.call('PTTL', h) < ttl + 60000 then redis.call('PEXPIRE', h, ttl + 60000) end
  end
  reserved = 1
end
return {allowed, reserved, held}
`;

const RELEASE_SCRIPT = `
local n = 0
for i = 1, #KEYS, 2 do
  n = n + redis.call('ZREM', KEYS[i], ARGV[1]); redis.call('HDEL', KEYS[i + 1], ARGV[1])
end
return n
`;

/**
 * Shared by every query replica. Keys carry the org in a hash tag so one
 * script's keys live on one Redis Cluster slot; an index remembers which lines
 * a reservation holds so it can be released by id.
 */
export class RedisReservations implements Reservations {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** Every call has a bound (ms). */
    private readonly timeoutMs = 1_000,
  ) {}

  async hold(req: HoldRequest): Promise<HoldResult> {
    const keys = req.lines.flatMap((l) => this.lineKeys(req.org_id, l.key));
    const id = req.reservation?.id ?? "";
    const ttl = req.reservation?.ttlMs ?? 0;
    const args = [
      req.now,
      req.now + ttl,
      id,
      ttl,
      req.lines.length,
      ...req.lines.flatMap((l) => [l.spent, l.limit, l.hard ? 1 : 0, l.estimate]),
    ];
    const [allowed, reserved, held] = (await this.bounded(this.redis.eval(HOLD_SCRIPT, keys.length, ...keys, ...args.map(String)))) as [
      number,
      number,
      string[],
    ];
    if (reserved === 1 && req.reservation) {
      const index = this.indexKey(req.org_id, id);
      const tx = this.redis
        .multi()
        .del(index)
        .rpush(index, ...req.lines.map((l) => l.key))
        .pexpire(index, ttl + 60_000);
      // A UUID key may come back as an event's id: list it (score = expiry) for settlement.
      if (isUuid(id)) {
        const pending = this.pendingKey(req.org_id);
        tx.zadd(pending, req.now + ttl, id).pexpire(pending, MAX_TTL_MS + 60_000);
      }
      await this.bounded(tx.exec());
    }
    return { allowed: allowed === 1, reserved: reserved === 1, held: held.map(Number) };
  }

  async release(org_id: string, id: string): Promise<boolean> {
    const lines = (await this.bounded(this.redis.lrange(this.indexKey(org_id, id), 0, -1))) as string[];
    if (lines.length === 0) return false;
    const keys = lines.flatMap((l) => this.lineKeys(org_id, l));
    await this.bounded(this.redis.eval(RELEASE_SCRIPT, keys.length, ...keys, id));
    await this.bounded(this.redis.multi().del(this.indexKey(org_id, id)).zrem(this.pendingKey(org_id), id).exec());
    return true;
  }

  async pending(org_id: string, now: number, limit: number): Promise<string[]> {
    const key = this.pendingKey(org_id);
    const replies = await this.bounded(
      this.redis.multi().zremrangebyscore(key, "-inf", now).zrangebyscore(key, `(${now}`, "+inf", "LIMIT", 0, limit).exec(),
    );
    const [err, live] = replies?.[1] ?? [new Error("redis transaction aborted"), []];
    if (err) throw err;
    return live as string[];
  }

  private lineKeys(org: string, line: string): [string, string] {
    const base = `${this.prefix}:budget-hold:{${org}}:${line}`;
    return [`${base}:exp`, `${base}:amt`];
  }

  /** The org's UUID-keyed reservations (member = id, score = expiry). */
  private pendingKey(org: string): string {
    return `${this.prefix}:budget-hold:{${org}}:pending`;
  }

  private indexKey(org: string, id: string): string {
    return `${this.prefix}:budget-hold:{${org}}:res:${id}`;
  }

  private bounded<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis reservation call timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }
}
