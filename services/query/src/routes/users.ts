import { z } from "zod";
import type { EndpointDef, QueryContext } from "../endpoint.js";
import { picos, usdOf } from "../money.js";
import { iso } from "../params.js";
import { planSegments, tagKeyOf } from "../plan.js";
import { tableOf } from "../series.js";
import { buildAggregateQuery, COST, column, REQUESTS, TOTAL_TOKENS } from "../sql.js";

const User = z.object({ user_id: z.string(), requests: z.number().int(), total_tokens: z.number().int(), cost_usd: z.number() });
export const UsersResponse = z.object({ start: z.iso.datetime(), end: z.iso.datetime(), users: z.array(User) });
export type UsersResponse = z.infer<typeof UsersResponse>;

interface Row {
  user_id: string;
  requests: number;
  total_tokens: number;
  cost_usd: string;
}

export async function getUsers(ctx: QueryContext): Promise<UsersResponse> {
  const { q } = ctx;
  // user_id lives in raw and the daily rollup only; tags in raw only.
  const tags = Object.keys(q.filters).some((k) => tagKeyOf(k) !== null);
  const segments = planSegments(q.start, q.end, [], { user: true, hourlyFrom: q.hourly_from, tags });
  const built = buildAggregateQuery({
    org_id: ctx.org_id,
    segments,
    dims: [column("user_id")],
    measures: [REQUESTS, TOTAL_TOKENS, COST],
    filters: q.filters,
    where: "user_id != ''",
    // cost_usd is the exact sum as text: ordered by its Decimal value.
    orderBy: "toDecimal128(cost_usd, 12) DESC, user_id",
    limit: q.limit,
  });
  const rows = await ctx.store.query<Row>(built.sql, built.params);
  return { start: iso(q.start), end: iso(q.end), users: rows.map((r) => ({ ...r, cost_usd: usdOf(picos(r.cost_usd)) })) };
}

export const users: EndpointDef<UsersResponse> = {
  name: "users",
  path: "/v1/analytics/users",
  summary: "Top users by cost",
  response: UsersResponse,
  run: getUsers,
  csv: (r) => tableOf(r.users),
};
