import { z } from "zod";

/** Limits of event schema v1 (docs/api.md "Event schema v1"). */
export const EVENT_LIMITS = {
  maxIdLength: 256,
  maxTags: 20,
  maxTagKeyLength: 64,
  maxTagValueLength: 256,
  /** image_size / image_quality: a variant name ("1024x1024", "hd"), never free text. */
  maxVariantLength: 64,
  /** Clock skew tolerated for producers whose clocks run ahead. */
  maxFutureSkewMs: 5 * 60 * 1000,
  /** Raw table TTL: an older event would be dropped by the TTL on arrival. */
  rawTtlMonths: 13,
} as const;

export const OPERATIONS = ["chat", "completion", "embedding", "image", "audio", "rerank", "other"] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Non-token quantities an event may carry (DESIGN.md "Event schema v1.1"), each a number >= 0. */
export const UNIT_KEYS = [
  "images",
  "audio_input_seconds",
  "audio_output_seconds",
  "characters",
  "queries",
  "web_searches",
  "video_seconds",
  "pages",
] as const;
export type UnitKey = (typeof UNIT_KEYS)[number];
export type Units = Partial<Record<UnitKey, number>>;

export const SERVICE_TIERS = ["standard", "batch", "flex", "priority"] as const;
export type ServiceTier = (typeof SERVICE_TIERS)[number];

/** Tag keys: 1-64 characters of A-Z a-z 0-9 _ . : - (so `tag.<key>` query parameters stay unambiguous). */
export const TAG_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * A lone UTF-16 surrogate (`"\ud800"` in JSON) has no UTF-8 encoding: the
 * engine refuses the row ("missing second part of surrogate pair"), or a
 * UTF-8 encoder silently turns it into U+FFFD. Either way the stored text
 * would not be what was sent, so such strings are rejected, never replaced:
 * replacing would also change an id (session_id, tags) behind the
 * producer's back and break idempotency. Checked with a regex, not
 * String.prototype.isWellFormed, so SDKs on older runtimes agree.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
export const ILL_FORMED_TEXT = "must be well-formed Unicode (no lone UTF-16 surrogate such as \\ud800)";

/** True when `s` has no lone UTF-16 surrogate, i.e. it has a UTF-8 encoding the engine stores as sent. */
export function isWellFormedText(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** The one refinement every string field of the event goes through (ids, model, error_code, tag keys and values). */
const text = () => z.string().refine(isWellFormedText, ILL_FORMED_TEXT);

const optionalId = text().max(EVENT_LIMITS.maxIdLength, `at most ${EVENT_LIMITS.maxIdLength} characters`).optional();
const count = z.number().int("must be an integer").nonnegative("must be >= 0");
const latency = count.max(86_400_000, "must be at most 86400000 (24 h)").optional();

/**
 * Usage event v1 as a producer sends it. `event_time` limits relative to "now"
 * are checked by {@link validateEvent}, which knows the clock. Every string
 * (ids, provider, model, error_code, tag keys and values) must be well-formed
 * Unicode: one with a lone UTF-16 surrogate is rejected with a reason naming
 * the field, never stored altered ({@link isWellFormedText}).
 */
export const UsageEventInput = z.object({
  event_id: z.uuid("must be a UUID"),
  event_time: z.iso.datetime({ offset: true, message: "must be an ISO-8601 instant with a zone, e.g. 2026-01-02T03:04:05Z" }),
  org_id: text().min(1, "must not be empty").max(EVENT_LIMITS.maxIdLength).optional(),
  project_id: optionalId,
  user_id: optionalId,
  agent_id: optionalId,
  session_id: optionalId,
  turn_id: optionalId,
  message_id: optionalId,
  call_sequence: count.optional(),
  provider: text().min(1, "must not be empty").max(EVENT_LIMITS.maxIdLength),
  model: text().min(1, "must not be empty").max(EVENT_LIMITS.maxIdLength),
  operation: z.enum(OPERATIONS, { message: `must be one of ${OPERATIONS.join(", ")}` }).optional(),
  input_tokens: count,
  output_tokens: count,
  cached_input_tokens: count.optional(),
  cache_write_tokens: count.optional(),
  reasoning_tokens: count.optional(),
  cost_usd: z.number().nonnegative("must be >= 0").finite().optional(),
  duration_ms: latency,
  ttfb_ms: latency,
  proxy_overhead_ms: latency,
  status_code: z.number().int("must be an integer").min(100, "must be 100-599").max(599, "must be 100-599"),
  error_code: text().max(EVENT_LIMITS.maxIdLength).optional(),
  streaming: z.boolean().optional(),
  tags: z
    .record(text(), text().max(EVENT_LIMITS.maxTagValueLength, `tag values at most ${EVENT_LIMITS.maxTagValueLength} characters`))
    .superRefine((t, ctx) => {
      // A key's own path and reason (zod's record key check only says "Invalid key in record").
      for (const k of Object.keys(t)) {
        if (!TAG_KEY_PATTERN.test(k)) {
          ctx.addIssue({
            code: "custom",
            path: [k],
            message: `tag keys are 1-${EVENT_LIMITS.maxTagKeyLength} characters of A-Z a-z 0-9 _ . : -`,
          });
        }
      }
      if (Object.keys(t).length > EVENT_LIMITS.maxTags) ctx.addIssue({ code: "custom", message: `at most ${EVENT_LIMITS.maxTags} tags` });
    })
    .optional(),
  // v1.1: non-token units, the service tier and the image variant that select a price.
  units: z
    .strictObject(
      Object.fromEntries(UNIT_KEYS.map((k) => [k, z.number("must be a number").nonnegative("must be >= 0").finite().optional()])) as Record<
        UnitKey,
        z.ZodOptional<z.ZodNumber>
      >,
      {
        error: (i) =>
          i.code === "unrecognized_keys" ? `unknown unit key(s) ${i.keys.join(", ")}; allowed: ${UNIT_KEYS.join(", ")}` : undefined,
      },
    )
    .optional(),
  service_tier: z.enum(SERVICE_TIERS, { message: `must be one of ${SERVICE_TIERS.join(", ")}` }).optional(),
  image_size: text().min(1, "must not be empty").max(EVENT_LIMITS.maxVariantLength).optional(),
  image_quality: text().min(1, "must not be empty").max(EVENT_LIMITS.maxVariantLength).optional(),
});
export type UsageEventInput = z.input<typeof UsageEventInput>;

/** A validated event with defaults applied: what the writer prices and stores. */
export interface UsageEvent {
  event_id: string;
  /** Epoch milliseconds (UTC). */
  event_time_ms: number;
  org_id: string;
  project_id: string;
  user_id: string;
  agent_id: string;
  session_id: string;
  turn_id: string;
  message_id: string;
  call_sequence: number | null;
  provider: string;
  model: string;
  operation: Operation;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  cost_usd: number | null;
  duration_ms: number | null;
  ttfb_ms: number | null;
  proxy_overhead_ms: number | null;
  status_code: number;
  error_code: string;
  streaming: boolean;
  tags: Record<string, string>;
  // v1.1, optional so events built in code before v1.1 stay valid; validateEvent always sets them.
  /** Non-token quantities; absent or {} when none. */
  units?: Units;
  /** Absent means "standard". */
  service_tier?: ServiceTier;
  /** Image price variant; absent or "" when not given. */
  image_size?: string;
  image_quality?: string;
}

/** One problem with one field: `path` is dotted (`tags.team`, `input_tokens`). */
export interface FieldError {
  path: string;
  message: string;
}

export type EventValidation = { ok: true; event: UsageEvent } | { ok: false; errors: FieldError[] };

export interface ValidateOptions {
  /** Current time in ms; injected so tests and replays are deterministic. */
  now: number;
  /** The credential's org on HTTP; the event's org_id must match if given. */
  org_id?: string;
}

/**
 * Validates one decoded event against schema v1 and the clock, returning every
 * problem at once (path + reason) or the normalized event.
 */
export function validateEvent(raw: unknown, opts: ValidateOptions): EventValidation {
  let e = parseEventInputFast(raw);
  if (e === null) {
    const parsed = UsageEventInput.safeParse(raw);
    if (!parsed.success) {
      return {
        ok: false,
        errors: parsed.error.issues.map((i) => ({ path: i.path.join(".") || "(event)", message: issueMessage(i) })),
      };
    }
    e = parsed.data;
  }
  const errors: FieldError[] = [];
  const eventTime = Date.parse(e.event_time);
  if (eventTime > opts.now + EVENT_LIMITS.maxFutureSkewMs) {
    errors.push({ path: "event_time", message: "must be at most 5 minutes in the future" });
  }
  if (eventTime < oldestAcceptedMs(opts.now)) {
    errors.push({ path: "event_time", message: `must not be older than ${EVENT_LIMITS.rawTtlMonths} months (raw TTL)` });
  }
  if (e.cached_input_tokens !== undefined || e.cache_write_tokens !== undefined) {
    const cacheTokens = (e.cached_input_tokens ?? 0) + (e.cache_write_tokens ?? 0);
    if (cacheTokens > e.input_tokens) {
      errors.push({ path: "input_tokens", message: "must include cached_input_tokens and cache_write_tokens (OpenAI convention)" });
    }
  }
  if ((e.reasoning_tokens ?? 0) > e.output_tokens) {
    errors.push({ path: "output_tokens", message: "must include reasoning_tokens (OpenAI convention)" });
  }
  let orgId = e.org_id;
  if (opts.org_id !== undefined) {
    if (orgId !== undefined && orgId !== opts.org_id) {
      errors.push({ path: "org_id", message: "does not match the credential's org" });
    }
    orgId = opts.org_id;
  } else if (orgId === undefined) {
    errors.push({ path: "org_id", message: "is required" });
  }
  if (errors.length > 0 || orgId === undefined) return { ok: false, errors };
  return {
    ok: true,
    event: {
      event_id: e.event_id.toLowerCase(),
      event_time_ms: eventTime,
      org_id: orgId,
      project_id: e.project_id ?? "",
      user_id: e.user_id ?? "",
      agent_id: e.agent_id ?? "",
      session_id: e.session_id ?? "",
      turn_id: e.turn_id ?? "",
      message_id: e.message_id ?? "",
      call_sequence: e.call_sequence ?? null,
      provider: e.provider.toLowerCase(),
      model: e.model,
      operation: e.operation ?? "chat",
      input_tokens: e.input_tokens,
      output_tokens: e.output_tokens,
      cached_input_tokens: e.cached_input_tokens ?? 0,
      cache_write_tokens: e.cache_write_tokens ?? 0,
      reasoning_tokens: e.reasoning_tokens ?? 0,
      cost_usd: e.cost_usd ?? null,
      duration_ms: e.duration_ms ?? null,
      ttfb_ms: e.ttfb_ms ?? null,
      proxy_overhead_ms: e.proxy_overhead_ms ?? null,
      status_code: e.status_code,
      error_code: e.error_code ?? "",
      streaming: e.streaming ?? false,
      tags: e.tags ?? {},
      // One shared, frozen empty object for the common call without units (no allocation per event).
      units: (e.units ?? NO_UNITS) as Units,
      service_tier: e.service_tier ?? "standard",
      image_size: e.image_size ?? "",
      image_quality: e.image_quality ?? "",
    },
  };
}

/** zod reports a bad record key as "Invalid key in record"; say what is wrong with it instead. */
function issueMessage(i: z.core.$ZodIssue): string {
  if (i.code === "invalid_key" && i.issues[0]) return `key ${i.issues[0].message}`;
  return i.message;
}

type ParsedInput = z.output<typeof UsageEventInput>;

/** The units of every event that carries none: read-only, shared. */
const NO_UNITS: Units = Object.freeze({});

const UUID_PATTERN = z.regexes.uuid();
const DATETIME_PATTERN = z.regexes.datetime({ offset: true, local: false, precision: null });
const OPERATION_SET: ReadonlySet<unknown> = new Set(OPERATIONS);
const OPTIONAL_IDS = ["project_id", "user_id", "agent_id", "session_id", "turn_id", "message_id", "error_code"] as const;
const COUNTS = ["input_tokens", "output_tokens"] as const;
const OPTIONAL_COUNTS = ["call_sequence", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens"] as const;
const LATENCIES = ["duration_ms", "ttfb_ms", "proxy_overhead_ms"] as const;

/**
 * The ingest hot path: the same rules as {@link UsageEventInput}, checked in
 * one pass without zod's per-field machinery (zod was ~5 µs of ~10 µs of JS
 * per event). It only ever says yes: anything it does not accept outright
 * (an invalid field, an unusual shape) returns null and zod decides, so the
 * accepted set and every error message stay exactly zod's. The result equals
 * `UsageEventInput.parse(raw)` (event.test.ts checks both on the same inputs).
 */
export function parseEventInputFast(raw: unknown): ParsedInput | null {
  if (typeof raw !== "object" || raw === null || Object.getPrototypeOf(raw) !== Object.prototype) return null;
  const r = raw as Record<string, unknown>;
  const max = EVENT_LIMITS.maxIdLength;
  const { event_id, event_time, org_id, provider, model, operation, cost_usd, status_code, streaming, tags } = r;
  if (typeof event_id !== "string" || !UUID_PATTERN.test(event_id)) return null;
  if (typeof event_time !== "string" || !DATETIME_PATTERN.test(event_time)) return null;
  if (org_id !== undefined && !(typeof org_id === "string" && org_id.length >= 1 && org_id.length <= max && isWellFormedText(org_id)))
    return null;
  if (typeof provider !== "string" || provider.length < 1 || provider.length > max || !isWellFormedText(provider)) return null;
  if (typeof model !== "string" || model.length < 1 || model.length > max || !isWellFormedText(model)) return null;
  if (operation !== undefined && !OPERATION_SET.has(operation)) return null;
  if (cost_usd !== undefined && !(typeof cost_usd === "number" && cost_usd >= 0 && Number.isFinite(cost_usd))) return null;
  if (!(typeof status_code === "number" && Number.isSafeInteger(status_code) && status_code >= 100 && status_code <= 599)) return null;
  if (streaming !== undefined && typeof streaming !== "boolean") return null;
  // v1.1 fields are rare next to plain chat calls: zod checks them (and their per-key messages).
  if (r.units !== undefined || r.service_tier !== undefined || r.image_size !== undefined || r.image_quality !== undefined) return null;
  const out: Record<string, unknown> = { event_id, event_time };
  if (org_id !== undefined) out.org_id = org_id;
  for (const k of OPTIONAL_IDS) {
    const v = r[k];
    if (v === undefined) continue;
    if (typeof v !== "string" || v.length > max || !isWellFormedText(v)) return null;
    out[k] = v;
  }
  for (const k of OPTIONAL_COUNTS) {
    const v = r[k];
    if (v === undefined) continue;
    if (!isCount(v)) return null;
    out[k] = v;
  }
  for (const k of COUNTS) {
    const v = r[k];
    if (!isCount(v)) return null;
    out[k] = v;
  }
  for (const k of LATENCIES) {
    const v = r[k];
    if (v === undefined) continue;
    if (!isCount(v) || (v as number) > 86_400_000) return null;
    out[k] = v;
  }
  out.provider = provider;
  out.model = model;
  if (operation !== undefined) out.operation = operation;
  if (cost_usd !== undefined) out.cost_usd = cost_usd;
  out.status_code = status_code;
  if (streaming !== undefined) out.streaming = streaming;
  if (tags !== undefined) {
    const t = copyTags(tags);
    if (t === null) return null;
    out.tags = t;
  }
  return out as ParsedInput;
}

function isCount(v: unknown): boolean {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** A copy of valid tags (zod returns a new object too), or null to let zod judge them. */
function copyTags(tags: unknown): Record<string, string> | null {
  if (typeof tags !== "object" || tags === null || Object.getPrototypeOf(tags) !== Object.prototype) return null;
  const out: Record<string, string> = {};
  let n = 0;
  for (const k in tags) {
    if (!Object.hasOwn(tags, k)) return null;
    const v = (tags as Record<string, unknown>)[k];
    // "__proto__" would set the copy's prototype instead of a key: zod's business.
    if (k === "__proto__" || !TAG_KEY_PATTERN.test(k)) return null;
    if (typeof v !== "string" || v.length > EVENT_LIMITS.maxTagValueLength || !isWellFormedText(v)) return null;
    out[k] = v;
    if (++n > EVENT_LIMITS.maxTags) return null;
  }
  // Symbol keys or non-enumerable ones: unusual, zod decides.
  if (Object.getOwnPropertyNames(tags).length !== n) return null;
  return out;
}

/** Oldest event_time the raw table keeps (its TTL), relative to `now`. */
export function oldestAcceptedMs(now: number): number {
  // Asked once per event with the same clock reading for a whole batch: keep the last answer.
  if (now === lastOldest.now) return lastOldest.ms;
  const d = new Date(now);
  d.setUTCMonth(d.getUTCMonth() - EVENT_LIMITS.rawTtlMonths);
  lastOldest = { now, ms: d.getTime() };
  return lastOldest.ms;
}
let lastOldest = { now: Number.NaN, ms: 0 };

/** An error (docs/api.md) is status_code >= 400 or a non-empty error_code. */
export function isError(e: Pick<UsageEvent, "status_code" | "error_code">): boolean {
  return e.status_code >= 400 || e.error_code !== "";
}
