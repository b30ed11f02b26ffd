import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTokenmeter, type Tokenmeter } from "../apps/tokenmeter/src/app.js";
import { loadConfig } from "../apps/tokenmeter/src/config.js";
import { launchBrowser, openPage, type PageProblems, waitForLoad } from "./support/browser.js";

// The dashboard in a real headless Chromium against the real product (chDB,
// ingest, query API, dashboard routes) holding a small known data set. Every
// expected figure is computed here from the events we sent, not from the API.

const DAY = 86_400_000;
const ORG = "dash-e2e";
const EMPTY_ORG = "dash-empty";
const SECRET = "dashboard-e2e-secret-dashboard-e2e-secret";
const ENDPOINTS = ["summary", "usage", "latency", "errors", "models", "agents", "users"];

interface SentEvent {
  event_id: string;
  event_time: string;
  project_id: string;
  agent_id: string;
  user_id: string;
  provider: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cost_usd?: number;
  duration_ms: number;
  ttfb_ms: number;
  proxy_overhead_ms: number;
  status_code: number;
  error_code: string;
}

const MODELS = [
  ["openai", "gpt-4o"],
  ["openai", "gpt-4o-mini"],
  ["anthropic", "claude-sonnet-4"],
  // No reported cost and no price: stored as unpriced.
  ["openai", "ft:e2e-unknown-model"],
] as const;

/** Midnight UTC today; the browser runs in UTC so the presets start on these midnights. */
const today = Math.floor(Date.now() / DAY) * DAY;

/**
 * Events at noon UTC, on days that stay inside the same preset windows even if
 * the date changes while the test runs: current 7 days D-5..D-1, previous
 * D-12..D-8, older D-25..D-20 (only in 30 d).
 */
function makeEvents(): SentEvent[] {
  const out: SentEvent[] = [];
  let i = 0;
  const days = [...[1, 2, 3, 4, 5].map((d) => [d, 8]), ...[8, 9, 10, 11, 12].map((d) => [d, 5]), ...[20, 22, 25].map((d) => [d, 4])];
  for (const [back, n] of days as [number, number][]) {
    for (let k = 0; k < n; k++, i++) {
      const [provider, model] = MODELS[i % MODELS.length] as readonly [string, string];
      const unpriced = model.startsWith("ft:");
      const err =
        i % 7 === 3
          ? { status_code: 429, error_code: "rate_limited" }
          : i % 11 === 5
            ? { status_code: 500, error_code: "upstream_error" }
            : null;
      out.push({
        event_id: randomUUID(),
        event_time: new Date(today - back * DAY + 12 * 3_600_000 + k * 60_000).toISOString(),
        project_id: `proj-${i % 2}`,
        agent_id: `agent-${i % 3}`,
        user_id: `user-${i % 4}`,
        provider,
        model,
        input_tokens: 1000 + ((i * 137) % 900),
        output_tokens: 200 + ((i * 71) % 300),
        ...(unpriced ? {} : { cost_usd: Number((0.01 + ((i * 13) % 50) / 1000).toFixed(6)) }),
        duration_ms: 300 + ((i * 97) % 1500),
        ttfb_ms: 100 + ((i * 31) % 400),
        proxy_overhead_ms: 3 + (i % 9),
        status_code: err?.status_code ?? 200,
        error_code: err?.error_code ?? "",
      });
    }
  }
  return out;
}

interface Figures {
  requests: number;
  errors: number;
  tokens: number;
  cost: number;
  agents: number;
  users: number;
  unpriced: number;
}

function figures(events: SentEvent[], start: number, end: number, filter: (e: SentEvent) => boolean = () => true): Figures {
  const inRange = events.filter((e) => Date.parse(e.event_time) >= start && Date.parse(e.event_time) < end && filter(e));
  return {
    requests: inRange.length,
    errors: inRange.filter((e) => e.status_code >= 400 || e.error_code !== "").length,
    tokens: inRange.reduce((a, e) => a + e.input_tokens + e.output_tokens, 0),
    cost: inRange.reduce((a, e) => a + (e.cost_usd ?? 0), 0),
    agents: new Set(inRange.map((e) => e.agent_id)).size,
    users: new Set(inRange.map((e) => e.user_id)).size,
    unpriced: inRange.filter((e) => e.cost_usd === undefined).length,
  };
}

const usd = (v: number) =>
  new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);
/** Rates under 10 % keep two decimals, larger ones one (the dashboard's rule). */
const pct = (v: number) => {
  const digits = v < 0.1 ? 2 : 1;
  return new Intl.NumberFormat("en-US", { style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits }).format(v);
};

describe("dashboard in headless Chromium", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tm-dashboard-"));
  const events = makeEvents();
  let tm: Tokenmeter;
  let browser: Browser;
  let token = "";

  beforeAll(async () => {
    const parsed = loadConfig({ TOKENMETER_DATA_DIR: dataDir, TOKENMETER_PORT: "0", TOKENMETER_DEMO: "0", TOKENMETER_JWT_SECRET: SECRET });
    if (!parsed.ok) throw new Error(parsed.errors.join("; "));
    tm = await startTokenmeter(parsed.config, { logger: pino({ level: "silent" }) });
    token = await tm.issueToken(ORG);
    const res = await fetch(`${tm.url}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(events),
    });
    const body = (await res.json()) as { accepted: number; rejected: unknown[] };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.accepted).toBe(events.length);
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await tm?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Opens the dashboard with a token in the fragment and waits for the first load. */
  async function open(query: string, tok = token, opts = {}): Promise<{ page: Page; problems: PageProblems; requests: URL[] }> {
    const { page, problems } = await openPage(browser, opts);
    const requests: URL[] = [];
    page.on("request", (r) => {
      if (r.url().includes("/v1/analytics/")) requests.push(new URL(r.url()));
    });
    await page.goto(`${tm.url}/${query}#token=${tok}`);
    return { page, problems, requests };
  }

  const kpiText = (page: Page, id: string) => page.locator(`[data-kpi="${id}"] .kpi-value`).textContent();
  const kpiAttr = (page: Page, id: string, attr: string) => page.locator(`[data-kpi="${id}"]`).getAttribute(attr);

  it("shows the expected KPI figures and changes vs the previous period, without console errors", async () => {
    const { page, problems } = await open("?range=7d");
    await waitForLoad(page, 1);
    const cur = figures(events, today - 6 * DAY, today + DAY);
    const prev = figures(events, today - 13 * DAY, today - 6 * DAY);
    expect(cur.requests).toBe(40);

    expect(await kpiText(page, "cost")).toBe(usd(cur.cost));
    expect(await kpiText(page, "requests")).toBe(String(cur.requests));
    expect(Number(await kpiAttr(page, "tokens", "data-value"))).toBe(cur.tokens);
    expect(await kpiText(page, "error_rate")).toBe(pct(cur.errors / cur.requests));
    expect(await kpiText(page, "agents")).toBe(String(cur.agents));
    expect(await kpiText(page, "users")).toBe(String(cur.users));
    expect(await kpiText(page, "unpriced")).toBe(String(cur.unpriced));
    expect(Number(await kpiAttr(page, "cost", "data-change"))).toBeCloseTo((cur.cost - prev.cost) / prev.cost, 6);
    expect(Number(await kpiAttr(page, "requests", "data-change"))).toBeCloseTo((cur.requests - prev.requests) / prev.requests, 9);
    // p95 comes from a sketch: it must lie within the durations we sent for the range.
    const p95 = Number(await kpiAttr(page, "p95", "data-value"));
    const durations = events.filter((e) => Date.parse(e.event_time) >= today - 6 * DAY).map((e) => e.duration_ms);
    expect(p95).toBeGreaterThanOrEqual(Math.min(...durations));
    expect(p95).toBeLessThanOrEqual(Math.max(...durations));

    // Every panel drew something; the model table lists every model with its share.
    for (const card of ["cost", "tokens", "latency", "errors", "models", "agents", "users"]) {
      expect(await page.locator(`[data-card="${card}"]`).getAttribute("data-state"), card).toBe("ready");
    }
    expect(await page.locator('[data-card="models"] tbody tr').count()).toBe(MODELS.length);
    expect(await page.locator('[data-card="agents"] tbody tr').count()).toBe(cur.agents);
    expect(problems.errors).toEqual([]);
    await page.context().close();
  });

  it("changing the range or a filter reloads every panel and updates the URL", async () => {
    const { page, problems, requests } = await open("?range=7d");
    await waitForLoad(page, 1);

    // 1. Range: 30 d.
    requests.length = 0;
    await page.click('[data-range="30d"]');
    await waitForLoad(page, 2);
    expect(new URL(page.url()).searchParams.get("range")).toBe("30d");
    const start30 = new Date(today - 29 * DAY).toISOString();
    for (const e of ENDPOINTS) {
      expect(
        requests.some((u) => u.pathname.endsWith(`/${e}`) && u.searchParams.get("start") === start30),
        `${e} reloaded for 30 d`,
      ).toBe(true);
    }
    const all = figures(events, today - 29 * DAY, today + DAY);
    expect(await kpiText(page, "requests")).toBe(String(all.requests));
    expect(await page.locator('[data-card="cost"] .card-note').textContent()).toBe(`${usd(all.cost)} total`);

    // 2. Filter: provider = anthropic.
    requests.length = 0;
    await page.selectOption('[data-filter="provider"]', "anthropic");
    await waitForLoad(page, 3);
    expect(new URL(page.url()).searchParams.get("provider")).toBe("anthropic");
    for (const e of ENDPOINTS) {
      expect(
        requests.some((u) => u.pathname.endsWith(`/${e}`) && u.searchParams.get("provider") === "anthropic"),
        `${e} reloaded with the filter`,
      ).toBe(true);
    }
    const anthropic = figures(events, today - 29 * DAY, today + DAY, (e) => e.provider === "anthropic");
    expect(await kpiText(page, "requests")).toBe(String(anthropic.requests));
    expect(await kpiText(page, "cost")).toBe(usd(anthropic.cost));
    const modelRows = await page.locator('[data-card="models"] tbody tr').allTextContents();
    expect(modelRows).toHaveLength(1);
    expect(modelRows[0]).toContain("claude-sonnet-4");

    // 3. The URL alone restores the view (shared link), and Back returns to the unfiltered one.
    const shared = page.url();
    const other = await open(new URL(shared).search);
    await waitForLoad(other.page, 1);
    expect(await other.page.locator('[data-range="30d"]').getAttribute("aria-pressed")).toBe("true");
    expect(await other.page.locator('[data-filter="provider"]').inputValue()).toBe("anthropic");
    expect(await kpiText(other.page, "requests")).toBe(String(anthropic.requests));
    await other.page.context().close();
    await page.goBack();
    await waitForLoad(page, 4);
    expect(await kpiText(page, "requests")).toBe(String(all.requests));
    expect(problems.errors).toEqual([]);
    await page.context().close();
  });

  it("switches granularity, sorts the model table into the URL, and shows API errors per panel with a retry", async () => {
    const { page } = await open("?range=7d");
    await waitForLoad(page, 1);

    // 1. Granularity: hour buckets for the same range (168 points on the series endpoints).
    const seen: URL[] = [];
    page.on("request", (r) => {
      if (r.url().includes("/v1/analytics/usage")) seen.push(new URL(r.url()));
    });
    await page.selectOption('[data-control="granularity"]', "hour");
    await waitForLoad(page, 2);
    expect(new URL(page.url()).searchParams.get("gran")).toBe("hour");
    expect(seen.some((u) => u.searchParams.get("granularity") === "hour")).toBe(true);

    // 2. Sorting by requests, ascending after a second click; kept in the URL.
    const requestsHeader = page.locator('[data-card="models"] th[data-key="requests"] button');
    await requestsHeader.click();
    await requestsHeader.click();
    expect(new URL(page.url()).searchParams.get("sort")).toBe("requests:asc");
    const counts = (await page.locator('[data-card="models"] tbody tr td:nth-child(2)').allTextContents()).map((t) =>
      Number(t.replace(/,/g, "")),
    );
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    await page.context().close();

    // 3. A range the API refuses (over 400 days): every panel says why and offers a retry.
    const bad = await open("?range=custom&from=2024-01-01&to=2026-01-01");
    await waitForLoad(bad.page, 1);
    for (const card of ["cost", "latency", "models", "users"]) {
      expect(await bad.page.locator(`[data-card="${card}"]`).getAttribute("data-state"), card).toBe("error");
    }
    expect(await bad.page.locator('[data-card="models"] .failed').textContent()).toContain("400 days");
    expect(await bad.page.locator('[data-card="models"] .failed button').textContent()).toBe("Retry");
    await bad.page.context().close();
  });

  it("downloads for every chart the CSV the API serves for the same view", async () => {
    const { page, problems } = await open("?range=30d&group=model");
    await waitForLoad(page, 1);
    const buttons = await page.locator("[data-csv]").all();
    expect(buttons.length).toBe(7);
    for (const button of buttons) {
      const card = await button.getAttribute("data-csv");
      const [download, response] = await Promise.all([
        page.waitForEvent("download"),
        page.waitForResponse((r) => r.url().includes("format=csv")),
        button.click(),
      ]);
      const saved = readFileSync((await download.path()) as string, "utf8");
      const url = new URL(response.url());
      expect(url.searchParams.get("start"), card ?? "").toBe(new Date(today - 29 * DAY).toISOString());
      const api = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(api.status).toBe(200);
      expect(saved, `CSV of ${card}`).toBe(await api.text());
      expect(saved.split("\n").length, `CSV of ${card} has rows`).toBeGreaterThan(2);
      if (card === "cost") expect(url.searchParams.get("group_by")).toBe("model");
    }
    expect(problems.errors).toEqual([]);
    await page.context().close();
  });

  it("shows the empty state for an org with no data", async () => {
    const emptyToken = await tm.issueToken(EMPTY_ORG);
    const { page, problems } = await open("?range=7d", emptyToken);
    await waitForLoad(page, 1);
    const banner = page.locator('[data-testid="empty-banner"]');
    expect(await banner.isVisible()).toBe(true);
    expect(await banner.textContent()).toContain("No usage data yet");
    for (const card of ["cost", "tokens", "latency", "errors", "models", "agents", "users"]) {
      expect(await page.locator(`[data-card="${card}"]`).getAttribute("data-state"), card).toBe("empty");
    }
    expect(await kpiText(page, "requests")).toBe("0");
    expect(problems.errors).toEqual([]);
    await page.context().close();
  });

  it("a bad token shows the 401 message and the paste box, which then opens the dashboard", async () => {
    const { page } = await open("?range=7d", "not-a-valid-token");
    const alert = page.locator('[data-testid="auth-error"]');
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.textContent()).toContain("401");
    expect(await page.evaluate(() => sessionStorage.getItem("tokenmeter.token"))).toBeNull();
    // The token never stays in the address bar.
    expect(new URL(page.url()).hash).toBe("");
    await page.fill("#token-input", token);
    await page.click('button[type="submit"]');
    await waitForLoad(page, 1);
    expect(await kpiText(page, "requests")).toBe("40");
    await page.context().close();
  });

  it("serves the page with a strict CSP and immutable hashed assets; dark mode and tooltips work", async () => {
    const res = await fetch(`${tm.url}/`);
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(res.headers.get("content-security-policy")).not.toContain("unsafe-inline");
    const html = await res.text();
    const script = /src="(\/assets\/app\.[0-9a-f]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${tm.url}${script}`);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    // Browsers fetch /favicon.ico unasked: it must not be a 404 (a console error).
    for (const path of ["/favicon.svg", "/favicon.ico"]) {
      const icon = await fetch(`${tm.url}${path}`);
      expect(icon.status, path).toBe(200);
      expect(icon.headers.get("content-type"), path).toBe("image/svg+xml");
      expect(await icon.text(), path).toContain("<svg");
    }

    const { page, problems } = await open("?range=7d", token, { colorScheme: "dark" });
    await waitForLoad(page, 1);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = (bg.match(/\d+/g) ?? []).map(Number);
    expect((r ?? 255) + (g ?? 255) + (b ?? 255)).toBeLessThan(120);
    // The toggle overrides the system: auto → light (kept for the next visit).
    await page.click('[data-control="theme"]');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("light");
    const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect((light.match(/\d+/g) ?? []).map(Number).reduce((a, v) => a + v, 0)).toBeGreaterThan(600);
    const over = await page.locator('[data-card="cost"] .u-over').boundingBox();
    expect(over).not.toBeNull();
    if (over) await page.mouse.move(over.x + over.width * 0.8, over.y + over.height / 2);
    await page.locator('[data-card="cost"] .tip.on').waitFor({ timeout: 5_000 });
    expect(problems.errors).toEqual([]);
    await page.context().close();
  });
});
