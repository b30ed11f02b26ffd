// Types of Query API v1 (docs/api.md) and a small fetch client for it.

export type Granularity = "hour" | "day" | "week" | "month";
export type GroupBy = "provider" | "model" | "agent_id" | "project_id" | "user_id" | "operation" | `tag.${string}`;

export interface UsagePoint {
  bucket: string;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  reasoning_tokens: number;
  total_tokens: number;
  cost_usd: number;
}
export type UsageTotals = Omit<UsagePoint, "bucket">;
export interface UsageResponse {
  granularity: Granularity;
  start: string;
  end: string;
  tz: string;
  series: UsagePoint[];
  totals: UsageTotals;
  groups?: { key: string; series: UsagePoint[]; totals: UsageTotals }[];
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}
export interface LatencyResponse {
  series: { bucket: string; requests: number; ttfb_ms: Percentiles; proxy_overhead_ms: Percentiles; duration_ms: Percentiles }[];
}

export interface ModelRow {
  provider: string;
  model: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  cost_usd: number;
  cost_share_pct: number;
  /** Contract v1.1; absent from a v1 server. */
  unpriced_requests?: number;
}
export interface ModelsResponse {
  models: ModelRow[];
}

export interface ErrorsResponse {
  series: { bucket: string; requests: number; errors: number; error_rate: number; by_code: Record<string, number> }[];
  totals: { requests: number; errors: number; error_rate: number; by_code: Record<string, number> };
}

export interface AgentRow {
  agent_id: string;
  requests: number;
  errors: number;
  total_tokens: number;
  cost_usd: number;
}
export interface UserRow {
  user_id: string;
  requests: number;
  total_tokens: number;
  cost_usd: number;
}

export interface SummaryFigures {
  requests: number;
  errors: number;
  error_rate: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  cost_usd: number;
  avg_cost_per_request: number;
  active_agents: number;
  active_users: number;
  p95_duration_ms: number | null;
  unpriced_requests: number;
  latest_event_at: string | null;
}
export interface SummaryResponse extends SummaryFigures {
  start: string;
  end: string;
  previous: SummaryFigures;
}

/** Query parameters; a list is sent as the parameter repeated (`model=a&model=b`: any of them). */
export type Params = Record<string, string | number | readonly string[] | undefined>;

/** A non-2xx answer, carrying the API's `{error: {code, message}}` when present. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Api {
  json<T>(endpoint: string, params: Params, signal?: AbortSignal): Promise<T>;
  csv(endpoint: string, params: Params): Promise<string>;
}

/** Calls `v1/analytics/<endpoint>` relative to the page, so a path prefix works. */
export function createApi(token: () => string | null): Api {
  async function call(endpoint: string, params: Params, accept: string, signal?: AbortSignal): Promise<Response> {
    // "tags/keys" and "tags/values" are the tag catalog (/v1/tags/…), everything else an analytics endpoint.
    const url = new URL(endpoint.startsWith("tags/") ? `v1/${endpoint}` : `v1/analytics/${endpoint}`, document.baseURI);
    for (const [k, v] of Object.entries(params)) {
      if (Array.isArray(v)) for (const x of v) url.searchParams.append(k, x);
      else if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
    }
    if (accept === "text/csv") url.searchParams.set("format", "csv");
    const headers: Record<string, string> = { Accept: accept };
    const t = token();
    if (t) headers.Authorization = `Bearer ${t}`;
    const res = await fetch(url, { headers, signal: signal ?? null });
    if (!res.ok) throw await toError(res);
    return res;
  }
  return {
    json: async <T>(endpoint: string, params: Params, signal?: AbortSignal) =>
      (await (await call(endpoint, params, "application/json", signal)).json()) as T,
    csv: async (endpoint, params) => (await call(endpoint, params, "text/csv")).text(),
  };
}

async function toError(res: Response): Promise<HttpError> {
  let code = "http_error";
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // not JSON (a proxy's error page): keep the status line
  }
  return new HttpError(res.status, code, message);
}
