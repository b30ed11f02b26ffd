import { z } from "zod";
import { canonicalTimeZone } from "../buckets.js";
import { FILTERS, GROUP_BYS } from "../params.js";

/**
 * The budget contract (DESIGN.md "Budgets"): what POST/PUT /v1/budgets accept
 * and what is stored. Scope is the query API's filters, so every filter the
 * analytics accept (FILTERS, which grows with the query dimensions) is a scope
 * key without a change here; `tags` become `tag.<key>` filters.
 */
export const METRICS = ["cost_usd", "total_tokens", "requests"] as const;
export type BudgetMetric = (typeof METRICS)[number];
export const PERIODS = ["day", "week", "month"] as const;
export const MAX_ROLLING_HOURS = 2160;

const value = z.string().min(1, "must not be empty").max(256, "at most 256 characters");
/** One value or several (OR), stored as a sorted, de-duplicated list. */
const values = z
  .union([value, z.array(value).min(1, "give at least one value").max(100, "at most 100 values")])
  .transform((v) => [...new Set(Array.isArray(v) ? v : [v])].sort());
const TAG_KEY = /^[A-Za-z0-9_.:-]{1,64}$/;

export const Scope = z
  .strictObject({
    ...(Object.fromEntries(FILTERS.map((f) => [f, values.optional()])) as Record<string, z.ZodOptional<typeof values>>),
    tags: z.record(z.string().regex(TAG_KEY, "tag keys are 1-64 characters of A-Z a-z 0-9 _ . : -"), values).optional(),
  })
  .describe("Query filters the budget counts: {} is the whole org");
/** Filter name → accepted values (OR), plus tag key → values. */
export type Scope = { tags?: Record<string, string[]> } & { [filter: string]: string[] | Record<string, string[]> | undefined };

/** A dimension to split by: a group_by of the analytics, or `tag.<key>`. */
export const Per = z
  .string()
  .refine((v) => (GROUP_BYS as readonly string[]).includes(v) || (v.startsWith("tag.") && TAG_KEY.test(v.slice(4))), {
    message: `must be one of ${GROUP_BYS.join(", ")} or tag.<key>`,
  });

/**
 * A calendar window in a zone, or a rolling one. One object with a refinement
 * (rather than a union) so each wrong field gets its own message.
 */
export const Window = z
  .strictObject({
    period: z.enum(PERIODS).optional(),
    tz: z
      .string()
      .max(64)
      .refine((tz) => canonicalTimeZone(tz) !== null, "must be an IANA time zone such as UTC or America/New_York")
      .optional(),
    rolling_hours: z
      .number()
      .int("must be a whole number of hours")
      .min(1, "must be at least 1")
      .max(MAX_ROLLING_HOURS, `must be at most ${MAX_ROLLING_HOURS}`)
      .optional(),
  })
  .superRefine((w, ctx) => {
    if (w.rolling_hours !== undefined && (w.period !== undefined || w.tz !== undefined))
      ctx.addIssue({ code: "custom", message: "give either {period, tz} or {rolling_hours}, not both" });
    if (w.rolling_hours === undefined && w.period === undefined)
      ctx.addIssue({ code: "custom", path: ["period"], message: `required: one of ${PERIODS.join(", ")} (or give rolling_hours)` });
  })
  .transform(
    (w): BudgetWindow =>
      w.rolling_hours !== undefined
        ? { rolling_hours: w.rolling_hours }
        : { period: w.period ?? "month", tz: canonicalTimeZone(w.tz ?? "UTC") ?? "UTC" },
  );
export type BudgetWindow = { period: (typeof PERIODS)[number]; tz: string } | { rolling_hours: number };

const threshold = z.number().gt(0, "must be above 0").max(100, "must be at most 100");

export const BudgetInput = z.strictObject({
  name: z.string().trim().min(1, "must not be empty").max(200, "at most 200 characters"),
  metric: z.enum(METRICS),
  limit: z.number().positive("must be above 0").max(1e15, "too large"),
  window: Window,
  scope: Scope.default({}),
  per: Per.nullable().default(null),
  thresholds: z
    .array(threshold)
    .max(10, "at most 10 thresholds")
    .default([80, 100])
    .transform((t) => [...new Set(t)].sort((a, b) => a - b)),
  enforcement: z.enum(["soft", "hard"]).default("soft"),
});
export type BudgetInput = Omit<z.output<typeof BudgetInput>, "scope"> & { scope: Scope };

/** A stored budget as the API returns it. */
export const Budget = z.object({
  id: z.string(),
  name: z.string(),
  metric: z.enum(METRICS),
  limit: z.number(),
  window: z.union([z.object({ period: z.enum(PERIODS), tz: z.string() }), z.object({ rolling_hours: z.number().int() })]),
  scope: z.record(z.string(), z.unknown()),
  per: z.string().nullable(),
  thresholds: z.array(z.number()),
  enforcement: z.enum(["soft", "hard"]),
  created_at: z.string(),
  updated_at: z.string(),
});
export type Budget = Omit<z.output<typeof Budget>, "scope" | "window"> & { scope: Scope; window: BudgetWindow };

/** The scope as analytics filters: `tags.team` becomes `tag.team`, the form the query planner takes. */
export function scopeFilters(scope: Scope): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(scope)) {
    if (k === "tags") for (const [tk, tv] of Object.entries(v as Record<string, string[]>)) out[`tag.${tk}`] = tv;
    else if (v) out[k] = v as unknown as string[];
  }
  return out;
}
