/**
 * Exact money in the query service. The store keeps cost_usd as
 * Decimal(38, 12) and answers sums as text; here they stay integers of
 * 10^-12 USD (bigint) until the answer rounds them to 6 decimals, so a total
 * is the same whether it came from one rollup row, many raw rows, a cache hit
 * or a sum of groups (DESIGN.md "Event schema v1.1": money is exact).
 */
export type Picos = bigint;

const SCALE = 12;
const ONE = 10n ** BigInt(SCALE);
const MICRO = 10n ** 6n;

/** A Decimal as the store prints it ("12.5", "0.000000000001", "0") → picodollars. */
export function picos(text: string | number | null | undefined): Picos {
  if (text === null || text === undefined || text === "") return 0n;
  const s = String(text);
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) throw new Error(`not a decimal: ${JSON.stringify(s)}`);
  const frac = (m[3] ?? "").slice(0, SCALE).padEnd(SCALE, "0");
  const v = BigInt(m[2] as string) * ONE + BigInt(frac);
  return m[1] === "-" ? -v : v;
}

/** USD as a JSON number with at most 6 decimals, rounded half up from the exact value. */
export function usdOf(p: Picos): number {
  const neg = p < 0n;
  const abs = neg ? -p : p;
  const micros = (abs + ONE / MICRO / 2n) / (ONE / MICRO);
  const text = `${micros / MICRO}.${(micros % MICRO).toString().padStart(6, "0")}`;
  return neg ? -Number(text) : Number(text);
}

/** The exact average p / n in USD (6 decimals); 0 when n is 0. */
export function usdPer(p: Picos, n: number): number {
  if (n <= 0) return 0;
  return usdOf((p * 2n + BigInt(n)) / (2n * BigInt(n)));
}

/** p as a share of total, 0-100 with 2 decimals (display only). */
export function sharePct(p: Picos, total: Picos): number {
  if (total <= 0n) return 0;
  return Number((p * 10_000n + total / 2n) / total) / 100;
}
