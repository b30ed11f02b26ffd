import { z } from "zod";
import type { EndpointDef, QueryContext } from "../endpoint.js";
import { picos, sharePct, usdOf } from "../money.js";
import { iso } from "../params.js";
import { planSums } from "../plan.js";
import { tableOf } from "../series.js";
import { buildAggregateQuery, COST, COST_PARTS, column, moneyOf, REQUESTS, sumOf, UNPRICED } from "../sql.js";

const Breakdown = z
  .object({
    input: z.number(),
    cached_input: z.number(),
    cache_write: z.number(),
    output: z.number(),
    reasoning: z.number(),
    units: z.number(),
  })
  .describe("Computed costs split by what was billed (USD); reported and unpriced calls add nothing here");
const Model = z.object({
  provider: z.string(),
  model: z.string(),
  operation: z.string(),
  requests: z.number().int(),
  unpriced_requests: z.number().int().describe("Calls stored without a price (unknown model or unit)"),
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  total_tokens: z.number().int(),
  cost_usd: z.number(),
  cost_share_pct: z.number().describe("Share of the range's cost, 0-100 (2 decimals)"),
  cost_breakdown: Breakdown,
});
export const ModelsResponse = z.object({ start: z.iso.datetime(), end: z.iso.datetime(), models: z.array(Model) });
export type ModelsResponse = z.infer<typeof ModelsResponse>;

type Row = {
  provider: string;
  model: string;
  operation: string;
  requests: number;
  unpriced_requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: string;
} & Record<(typeof COST_PARTS)[number], string>;

/** cost_input_usd → input, cost_cached_input_usd → cached_input, ... */
const partName = (col: string) => col.replace(/^cost_/, "").replace(/_usd$/, "");

export async function getModels(ctx: QueryContext): Promise<ModelsResponse> {
  const { q } = ctx;
  // Rows per (provider, model, operation): every rollup keeps the three. The tag rollup keeps no cost
  // breakdown, so tag questions read raw here (no promoted keys passed).
  const segments = planSums(q, [], ["provider", "model", "operation"]);
  const built = buildAggregateQuery({
    org_id: ctx.org_id,
    segments,
    dims: [column("provider"), column("model"), column("operation")],
    measures: [REQUESTS, UNPRICED, sumOf("input_tokens"), sumOf("output_tokens"), COST, ...COST_PARTS.map(moneyOf)],
    filters: q.filters,
  });
  const rows = await ctx.store.query<Row>(built.sql, built.params);
  // Ranked on the exact sums (ties: more requests first, then by name).
  const exact = rows.map((r) => ({ r, cost: picos(r.cost_usd) }));
  exact.sort(
    (a, b) =>
      (a.cost > b.cost ? -1 : a.cost < b.cost ? 1 : 0) ||
      b.r.requests - a.r.requests ||
      `${a.r.provider}\0${a.r.model}\0${a.r.operation}`.localeCompare(`${b.r.provider}\0${b.r.model}\0${b.r.operation}`),
  );
  const total = exact.reduce((s, x) => s + x.cost, 0n);
  const models = exact.map(({ r, cost }) => ({
    provider: r.provider,
    model: r.model,
    operation: r.operation,
    requests: r.requests,
    unpriced_requests: r.unpriced_requests,
    input_tokens: r.input_tokens,
    output_tokens: r.output_tokens,
    total_tokens: r.input_tokens + r.output_tokens,
    cost_usd: usdOf(cost),
    cost_share_pct: sharePct(cost, total),
    cost_breakdown: Object.fromEntries(COST_PARTS.map((c) => [partName(c), usdOf(picos(r[c]))])) as z.infer<typeof Breakdown>,
  }));
  return { start: iso(q.start), end: iso(q.end), models };
}

export const models: EndpointDef<ModelsResponse> = {
  name: "models",
  path: "/v1/analytics/models",
  summary: "Requests, tokens, cost and its breakdown per provider, model and operation, by cost descending",
  response: ModelsResponse,
  run: getModels,
  csv: (r) => tableOf(r.models),
};
