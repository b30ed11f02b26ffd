import type { UsageEventInput } from "@tokenmeter/core";

/** Orgs of the demo data set; the first is the one the printed token opens. */
export const DEMO_ORGS = [
  { org_id: "acme", weight: 0.6, tzOffsetHours: -5, projects: ["support-bot", "code-review", "search"], agents: 12, users: 80 },
  { org_id: "globex", weight: 0.3, tzOffsetHours: 1, projects: ["sales-assistant", "ops"], agents: 7, users: 40 },
  { org_id: "initech", weight: 0.1, tzOffsetHours: 9, projects: ["tps-reports"], agents: 3, users: 12 },
] as const;

interface DemoModel {
  provider: string;
  model: string;
  share: number;
  /** Median duration in ms; streaming TTFB is a fraction of it. */
  latencyMs: number;
  operation?: "chat" | "embedding";
  reasoning?: boolean;
}

// Shares loosely follow what public gateway reports show; the fine-tuned model
// has no public price, so the demo also shows the "unpriced" path.
const MODELS: DemoModel[] = [
  { provider: "openai", model: "gpt-4o-mini", share: 0.3, latencyMs: 900 },
  { provider: "openai", model: "gpt-4o", share: 0.2, latencyMs: 1800 },
  { provider: "openai", model: "o3-mini", share: 0.05, latencyMs: 6000, reasoning: true },
  { provider: "anthropic", model: "claude-sonnet-4-20250514", share: 0.17, latencyMs: 2400 },
  { provider: "anthropic", model: "claude-haiku-4-5-20251001", share: 0.1, latencyMs: 1100 },
  { provider: "gemini", model: "gemini-2.0-flash", share: 0.1, latencyMs: 800 },
  { provider: "openai", model: "text-embedding-3-small", share: 0.06, latencyMs: 150, operation: "embedding" },
  { provider: "openai", model: "ft:acme-support-v2", share: 0.02, latencyMs: 1500 },
];

const ERROR_CODES = [
  { code: "rate_limited", status: 429, weight: 0.5 },
  { code: "upstream_error", status: 502, weight: 0.2 },
  { code: "timeout", status: 504, weight: 0.15 },
  { code: "content_filter", status: 400, weight: 0.1 },
  { code: "context_length_exceeded", status: 400, weight: 0.05 },
];

/** Small, fast, seedable PRNG (mulberry32) so the demo is the same on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface DemoOptions {
  /** Roughly how many events in total. */
  events: number;
  /** Last instant covered (ms); the data spans the 90 days before it. */
  end: number;
  days?: number;
  seed?: number;
}

const HOUR = 3_600_000;

/**
 * Generates demo events hour by hour (oldest first), in chunks of about one
 * day, so memory stays flat however many events are asked for: diurnal and
 * weekly cycles per org time zone, 40 % growth over the period, two incidents
 * with error spikes, cache hits, reasoning tokens and latency per model.
 */
export function* demoEvents(opts: DemoOptions): Generator<UsageEventInput[]> {
  const rand = seededRandom(opts.seed ?? 42);
  const days = opts.days ?? 90;
  const endHour = Math.floor(opts.end / HOUR) * HOUR;
  const startHour = endHour - days * 24 * HOUR;
  const hours = days * 24;
  const perHour = opts.events / hours;
  const incidents = [startHour + Math.floor(hours * 0.35) * HOUR, endHour - 30 * HOUR];
  const pick = weightedPicker(rand);
  let chunk: UsageEventInput[] = [];
  for (let h = startHour; h < endHour; h += HOUR) {
    const progress = (h - startHour) / (endHour - startHour);
    const incident = incidents.some((t) => h >= t && h < t + 3 * HOUR);
    for (const org of DEMO_ORGS) {
      const local = new Date(h + org.tzOffsetHours * HOUR);
      const hourOfDay = local.getUTCHours();
      const weekend = local.getUTCDay() === 0 || local.getUTCDay() === 6;
      const diurnal = 0.25 + 0.75 * Math.max(0, Math.sin(((hourOfDay - 6) / 24) * 2 * Math.PI)) ** 1.5;
      const expected = perHour * org.weight * diurnal * (weekend ? 0.45 : 1.25) * (0.8 + 0.4 * progress) * 2.12;
      const n = Math.max(0, Math.round(expected * (0.85 + 0.3 * rand())));
      for (let i = 0; i < n; i++) chunk.push(demoEvent(rand, pick, org, h + Math.floor(rand() * HOUR), incident));
    }
    if (chunk.length >= 5_000 || h + HOUR >= endHour) {
      if (chunk.length > 0) yield chunk;
      chunk = [];
    }
  }
}

function demoEvent(
  rand: () => number,
  pick: ReturnType<typeof weightedPicker>,
  org: (typeof DEMO_ORGS)[number],
  time: number,
  incident: boolean,
): UsageEventInput {
  const m = pick(MODELS, (x) => x.share);
  const agentNo = Math.floor(rand() ** 1.7 * org.agents);
  const userNo = Math.floor(rand() ** 2 * org.users);
  const project = org.projects[agentNo % org.projects.length] ?? "default";
  const embedding = m.operation === "embedding";
  const input = Math.round(logNormal(rand, embedding ? 400 : 1800, 0.9));
  const cached = !embedding && rand() < 0.35 ? Math.round(input * (0.3 + 0.6 * rand())) : 0;
  const output = embedding ? 0 : Math.round(logNormal(rand, 350, 0.8));
  const reasoning = m.reasoning ? Math.round(output * (0.5 + rand())) : 0;
  const failed = rand() < (incident ? 0.22 : 0.012);
  const error = failed ? pick(ERROR_CODES, (e) => e.weight) : undefined;
  const duration = Math.round(logNormal(rand, m.latencyMs * (incident ? 1.8 : 1), 0.45));
  const streaming = !embedding && rand() < 0.7;
  return {
    event_id: uuidFrom(rand),
    event_time: new Date(time).toISOString(),
    org_id: org.org_id,
    project_id: project,
    agent_id: `${project}-agent-${agentNo + 1}`,
    user_id: `user-${String(userNo + 1).padStart(3, "0")}@${org.org_id}.example`,
    session_id: `s-${Math.floor(rand() * 1e9).toString(36)}`,
    provider: m.provider,
    model: m.model,
    operation: m.operation ?? "chat",
    input_tokens: input,
    cached_input_tokens: cached,
    output_tokens: output + reasoning,
    reasoning_tokens: reasoning,
    duration_ms: duration,
    ttfb_ms: streaming ? Math.round(duration * (0.15 + 0.2 * rand())) : duration,
    proxy_overhead_ms: Math.round(logNormal(rand, 6, 0.5)),
    status_code: error?.status ?? 200,
    error_code: error?.code ?? "",
    streaming,
    // Tags for the tag filters / group_by (v1.1), derived from values already drawn so the stream stays the same.
    tags: { team: agentNo % 3 === 0 ? "growth" : agentNo % 3 === 1 ? "core" : "platform", feature: `${project}.f${(agentNo % 4) + 1}` },
    // One org's gateway reports its own cost; the others are priced at ingest.
    ...(org.org_id === "globex" && !failed ? { cost_usd: Number(((input + output) * 2.1e-6).toFixed(6)) } : {}),
  };
}

function logNormal(rand: () => number, median: number, sigma: number): number {
  const u = Math.max(rand(), 1e-12);
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  return Math.max(1, median * Math.exp(sigma * z));
}

function weightedPicker(rand: () => number) {
  return <T>(items: readonly T[], weight: (t: T) => number): T => {
    const total = items.reduce((s, x) => s + weight(x), 0);
    let r = rand() * total;
    for (const x of items) {
      r -= weight(x);
      if (r <= 0) return x;
    }
    return items[items.length - 1]!;
  };
}

function uuidFrom(rand: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16));
  hex[12] = "4";
  hex[16] = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const s = hex.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}
