import type { Store } from "@tokenmeter/clickhouse";
import type { z } from "zod";
import type { AnalyticsQuery, Endpoint } from "./params.js";

/** What a route's query function gets: the store, the caller's org (from the credential only) and the validated query. */
export interface QueryContext {
  store: Store;
  org_id: string;
  q: AnalyticsQuery;
  /** Promoted tag keys whose rollup is backfilled (tag_rollup_keys 'ready'); absent = none, tags read raw. */
  tagRollupKeys?: ReadonlySet<string>;
}

export interface CsvTable {
  columns: string[];
  rows: Record<string, unknown>[];
}

/** One analytics endpoint: its query, its response schema (OpenAPI) and its CSV view. */
export interface EndpointDef<R = unknown> {
  name: Endpoint;
  /** `/v1/analytics/<name>`, or `/v1/tags/…` for the tag catalog. */
  path: `/v1/${string}`;
  summary: string;
  response: z.ZodType<R>;
  run(ctx: QueryContext): Promise<R>;
  csv(result: R): CsvTable;
}

/** USD with 6 decimals (docs/api.md "Numbers"): float sums carry noise past that. */
export const usd = (x: number) => Math.round(x * 1e6) / 1e6;
export const ratio = (num: number, den: number) => (den > 0 ? Math.round((num / den) * 1e6) / 1e6 : 0);
