import { z } from "zod";
import type { EndpointDef, QueryContext } from "../endpoint.js";
import { usd } from "../endpoint.js";
import { iso } from "../params.js";
import { planSegments } from "../plan.js";
import { tableOf } from "../series.js";
import { buildAggregateQuery, column, REQUESTS, sumOf, TOTAL_TOKENS } from "../sql.js";

const User = z.object({ user_id: z.string(), requests: z.number().int(), total_tokens: z.number().int(), cost_usd: z.number() });
export const UsersResponse = z.object({ start: z.iso.datetime(), end: z.iso.datetime(), users: z.array(User) });
export type UsersResponse = z.infer<typeof UsersResponse>;

interface Row {
  user_id: string;
  requests: number;
  total_tokens: number;
  cost_usd: number;
}

export async function getUsers(ctx: QueryContext): Promise<UsersResponse> {
  const { q } = ctx;
  // user_id lives in raw and the daily rollup only.
  const segments = planSegments(q.start, q.end, [], { user: true, latency: false, hourlyFrom: q.hourly_from });
  const built = buildAggregateQuery({
    org_id: ctx.org_id,
    segments,
    dims: [column("user_id")],
    measures: [REQUESTS, TOTAL_TOKENS, sumOf("cost_usd")],
    filters: q.filters,
    where: "user_id != ''",
    orderBy: "cost_usd DESC, user_id",
    limit: q.limit,
  });
  const rows = await ctx.store.query<Row>(built.sql, built.params);
  return { start: iso(q.start), end: iso(q.end), users: rows.map((r) => ({ ...r, cost_usd: usd(r.cost_usd) })) };
}

export const users: EndpointDef<UsersResponse> = {
  name: "users",
  path: "/v1/analytics/users",
  summary: "Top users by cost",
  response: UsersResponse,
  run: getUsers,
  csv: (r) => tableOf(r.users),
};
