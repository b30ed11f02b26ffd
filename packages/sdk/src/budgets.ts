/**
 * Budget checks for agent loops: ask before a model call whether the org's
 * budgets let it through, optionally reserving its estimate so concurrent
 * calls cannot all pass under a cap. A refusal is a BudgetExceededError, which
 * says it is not retryable: retrying a refusal only storms the service.
 */

/** The call about to be made (the same dimensions as its usage event). */
export interface BudgetCall {
  project_id?: string;
  agent_id?: string;
  user_id?: string;
  provider?: string;
  model?: string;
  operation?: string;
  tags?: Record<string, string>;
  /** Expected amount in each budget's metric (USD, tokens or 1 request). Default 0. */
  estimate?: number;
}

export interface CheckedBudget {
  id: string;
  name: string;
  key: string | null;
  metric: string;
  spent: number;
  limit: number;
  remaining: number;
  held: number;
  resets_at: string | null;
  enforcement: "soft" | "hard";
}

export interface CheckResult {
  allowed: boolean;
  budgets: CheckedBudget[];
  reservation?: { id: string; expires_at: string };
}

/** A hard budget refused the call. Not retryable: wait for `resets_at` or raise the limit. */
export class BudgetExceededError extends Error {
  override readonly name = "BudgetExceededError";
  readonly retryable = false;
  constructor(readonly budgets: CheckedBudget[]) {
    const hard = budgets.filter((b) => b.enforcement === "hard");
    super(`budget exceeded: ${hard.map((b) => `${b.name}${b.key ? ` (${b.key})` : ""} ${b.spent}/${b.limit}`).join(", ")}`);
  }
}

/** The service answered with an error (4xx/5xx) or not at all. */
export class BudgetCheckError extends Error {
  override readonly name = "BudgetCheckError";
  constructor(
    message: string,
    readonly status: number,
    /** 5xx, 429 and network failures may succeed later; 4xx will not. */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface BudgetClientOptions {
  /** Tokenmeter's base URL, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  /** Bearer token (JWT with org_id) or API key. */
  token: string;
  /** Per request. Default 2,000 ms: a check sits on the agent's hot path. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface Reservation extends CheckResult {
  /**
   * The idempotency key the estimate is held under (a UUID unless you passed
   * your own). Report the call's usage with `track({ event_id: hold.key, ... })`:
   * when that event is stored the service swaps the hold for the real figure
   * itself (settlement), with no moment where the call counts as neither.
   */
  key: string;
  /** The same as `key`. */
  id: string;
  /**
   * Frees the held estimate now. Only for a call that will report no usage
   * (abandoned before the provider was reached); after `track` let the event settle it.
   */
  release(): Promise<void>;
}

export interface BudgetClient {
  /** Whether the call may go ahead now (nothing is held). */
  check(call: BudgetCall): Promise<CheckResult>;
  /**
   * Holds `estimate` under `key` (default: a new UUID, so the call's event_id can
   * settle it) for `ttlSeconds` (default 60) or throws BudgetExceededError.
   */
  reserve(call: BudgetCall & { estimate: number }, opts?: { key?: string; ttlSeconds?: number }): Promise<Reservation>;
  release(key: string): Promise<void>;
}

export function createBudgetClient(opts: BudgetClientOptions): BudgetClient {
  const base = opts.baseUrl.replace(/\/$/, "");
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 2_000;
  const request = async (method: string, path: string, body?: unknown): Promise<Response> => {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${opts.token}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new BudgetCheckError(`budget check failed: ${(err as Error).message}`, 0, true);
    }
    if (res.status >= 400 && res.status !== 404) {
      const text = await res.text();
      throw new BudgetCheckError(
        `budget check answered ${res.status}: ${text.slice(0, 500)}`,
        res.status,
        res.status >= 500 || res.status === 429,
      );
    }
    return res;
  };
  const check = async (call: BudgetCall & { idempotency_key?: string; ttl_seconds?: number }): Promise<CheckResult> =>
    (await (await request("POST", "/v1/budgets/check", call)).json()) as CheckResult;
  const release = async (key: string) => {
    await request("DELETE", `/v1/budgets/reservations/${encodeURIComponent(key)}`);
  };
  return {
    check: (call) => check(call),
    async reserve(call, o = {}) {
      const key = o.key ?? globalThis.crypto.randomUUID();
      const result = await check({ ...call, idempotency_key: key, ttl_seconds: o.ttlSeconds ?? 60 });
      if (!result.allowed) throw new BudgetExceededError(result.budgets);
      return { ...result, key, id: key, release: () => release(key) };
    },
    release,
  };
}
