import { z } from "zod";
import type { EndpointDef, QueryContext } from "../endpoint.js";
import { iso } from "../params.js";
import { tableOf } from "../series.js";
import { type BuiltQuery, filterSql, rangeValue } from "../sql.js";

/**
 * The tag catalog: which keys an org's events carry, and which values a key
 * takes, by how many calls in [start, end). Tags live in raw rows only (the
 * rollups keep none); the key / value skip indexes of 0006 narrow the values
 * query to the granules holding the key.
 */
export const TagKeysResponse = z.object({
  start: z.iso.datetime(),
  end: z.iso.datetime(),
  keys: z.array(z.object({ key: z.string(), requests: z.number().int() })).describe("Most used first"),
});
export type TagKeysResponse = z.infer<typeof TagKeysResponse>;

export const TagValuesResponse = z.object({
  start: z.iso.datetime(),
  end: z.iso.datetime(),
  key: z.string(),
  values: z
    .array(z.object({ value: z.string(), requests: z.number().int() }))
    .describe("Most used first; events without the key are not a value"),
});
export type TagValuesResponse = z.infer<typeof TagValuesResponse>;

function rawWhere(ctx: QueryContext, params: Record<string, unknown>): string {
  params.org_id = ctx.org_id;
  params.from = rangeValue("raw", ctx.q.start);
  params.to = rangeValue("raw", ctx.q.end);
  params.limit = ctx.q.limit;
  return `org_id = {org_id:String} AND event_time >= {from:DateTime64(3, 'UTC')} AND event_time < {to:DateTime64(3, 'UTC')}${filterSql(ctx.q.filters, params)}`;
}

export function buildTagKeysQuery(ctx: QueryContext): BuiltQuery {
  const params: Record<string, unknown> = {};
  const where = rawWhere(ctx, params);
  const sql = `SELECT arrayJoin(mapKeys(tags)) AS key, count() AS requests FROM llm_usage WHERE ${where} AND notEmpty(tags) GROUP BY key ORDER BY requests DESC, key LIMIT {limit:UInt32}`;
  return { sql, params };
}

export function buildTagValuesQuery(ctx: QueryContext, key: string): BuiltQuery {
  const params: Record<string, unknown> = { key };
  const where = rawWhere(ctx, params);
  const sql = `SELECT tags[{key:String}] AS value, count() AS requests FROM llm_usage WHERE ${where} AND mapContains(tags, {key:String}) GROUP BY value ORDER BY requests DESC, value LIMIT {limit:UInt32}`;
  return { sql, params };
}

export const tagKeys: EndpointDef<TagKeysResponse> = {
  name: "tag_keys",
  path: "/v1/tags/keys",
  summary: "Tag keys of the org's events in the range, most used first",
  response: TagKeysResponse,
  async run(ctx) {
    const built = buildTagKeysQuery(ctx);
    const keys = await ctx.store.query<{ key: string; requests: number }>(built.sql, built.params);
    return { start: iso(ctx.q.start), end: iso(ctx.q.end), keys };
  },
  csv: (r) => tableOf(r.keys),
};

export const tagValues: EndpointDef<TagValuesResponse> = {
  name: "tag_values",
  path: "/v1/tags/values",
  summary: "Values of one tag key in the range, most used first",
  response: TagValuesResponse,
  async run(ctx) {
    const key = ctx.q.tag_key ?? "";
    const built = buildTagValuesQuery(ctx, key);
    const values = await ctx.store.query<{ value: string; requests: number }>(built.sql, built.params);
    return { start: iso(ctx.q.start), end: iso(ctx.q.end), key, values };
  },
  csv: (r) => tableOf(r.values.map((v) => ({ key: r.key, ...v }))),
};
