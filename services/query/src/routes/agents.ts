import { z } from "zod";
import type { EndpointDef, QueryContext } from "../endpoint.js";
import { picos, usdOf } from "../money.js";
import { iso } from "../params.js";
import { planSums } from "../plan.js";
import { tableOf } from "../series.js";
import { buildAggregateQuery, COST, column, ERRORS, REQUESTS, TOTAL_TOKENS } from "../sql.js";

const Agent = z.object({
  agent_id: z.string(),
  requests: z.number().int(),
  errors: z.number().int(),
  total_tokens: z.number().int(),
  cost_usd: z.number(),
});
export const AgentsResponse = z.object({ start: z.iso.datetime(), end: z.iso.datetime(), agents: z.array(Agent) });
export type AgentsResponse = z.infer<typeof AgentsResponse>;

interface Row {
  agent_id: string;
  requests: number;
  errors: number;
  total_tokens: number;
  cost_usd: string;
}

export async function getAgents(ctx: QueryContext): Promise<AgentsResponse> {
  const { q } = ctx;
  const segments = planSums(q, [], ["agent_id"]);
  // Events without an agent_id are not an agent: left out of the ranking.
  const built = buildAggregateQuery({
    org_id: ctx.org_id,
    segments,
    dims: [column("agent_id")],
    measures: [REQUESTS, ERRORS, TOTAL_TOKENS, COST],
    filters: q.filters,
    where: "agent_id != ''",
    orderBy: "requests DESC, agent_id",
    limit: q.limit,
  });
  const rows = await ctx.store.query<Row>(built.sql, built.params);
  return { start: iso(q.start), end: iso(q.end), agents: rows.map((r) => ({ ...r, cost_usd: usdOf(picos(r.cost_usd)) })) };
}

export const agents: EndpointDef<AgentsResponse> = {
  name: "agents",
  path: "/v1/analytics/agents",
  summary: "Top agents by requests",
  response: AgentsResponse,
  run: getAgents,
  csv: (r) => tableOf(r.agents),
};
