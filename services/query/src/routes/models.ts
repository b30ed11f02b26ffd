import { z } from "zod";
import type { EndpointDef, QueryContext } from "../endpoint.js";
import { usd } from "../endpoint.js";
import { iso } from "../params.js";
import { planSums } from "../plan.js";
import { tableOf } from "../series.js";
import { buildAggregateQuery, column, REQUESTS, sumOf } from "../sql.js";

const Model = z.object({
  provider: z.string(),
  model: z.string(),
  requests: z.number().int(),
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  total_tokens: z.number().int(),
  cost_usd: z.number(),
  cost_share_pct: z.number().describe("Share of the range's cost, 0-100 (2 decimals)"),
});
export const ModelsResponse = z.object({ start: z.iso.datetime(), end: z.iso.datetime(), models: z.array(Model) });
export type ModelsResponse = z.infer<typeof ModelsResponse>;

interface Row {
  provider: string;
  model: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

export async function getModels(ctx: QueryContext): Promise<ModelsResponse> {
  const { q } = ctx;
  const segments = planSums(q, [], ["provider", "model"]);
  const built = buildAggregateQuery({
    org_id: ctx.org_id,
    segments,
    dims: [column("provider"), column("model")],
    measures: [REQUESTS, sumOf("input_tokens"), sumOf("output_tokens"), sumOf("cost_usd")],
    filters: q.filters,
    orderBy: "cost_usd DESC, requests DESC, provider, model",
  });
  const rows = await ctx.store.query<Row>(built.sql, built.params);
  const total = rows.reduce((s, r) => s + r.cost_usd, 0);
  const models = rows.map((r) => ({
    provider: r.provider,
    model: r.model,
    requests: r.requests,
    input_tokens: r.input_tokens,
    output_tokens: r.output_tokens,
    total_tokens: r.input_tokens + r.output_tokens,
    cost_usd: usd(r.cost_usd),
    cost_share_pct: total > 0 ? Math.round((r.cost_usd / total) * 10_000) / 100 : 0,
  }));
  return { start: iso(q.start), end: iso(q.end), models };
}

export const models: EndpointDef<ModelsResponse> = {
  name: "models",
  path: "/v1/analytics/models",
  summary: "Requests, tokens and cost per provider and model, by cost descending",
  response: ModelsResponse,
  run: getModels,
  csv: (r) => tableOf(r.models),
};
