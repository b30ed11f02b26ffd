import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDashboardRoutes } from "@tokenmeter/query";
import { pino } from "pino";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTokenmeter, type Tokenmeter } from "../apps/tokenmeter/src/app.js";
import { loadConfig } from "../apps/tokenmeter/src/config.js";
import { launchBrowser, openPage, type PageProblems, waitForLoad } from "./support/browser.js";

// Query dimensions v1.1 in the dashboard, in a real headless Chromium against
// the real product: stack by operation and by a tag key, and the searchable
// multi-select filters (several values = any of them, sent as repeated
// parameters). Expected figures come from the events sent here.
const DAY = 86_400_000;
const ORG = "dash-dims";
const SECRET = "dashboard-dims-secret-dashboard-dims-secret";
const today = Math.floor(Date.now() / DAY) * DAY;
const OPS = ["chat", "chat", "embedding", "image", "rerank"] as const;
const TEAMS = ["growth", "core", "ml"] as const;

interface Sent {
  model: string;
  operation: string;
  user_id: string;
  tags: Record<string, string>;
}

const events: (Sent & Record<string, unknown>)[] = Array.from({ length: 60 }, (_, i) => ({
  event_id: randomUUID(),
  event_time: new Date(today - ((i % 5) + 1) * DAY + 12 * 3_600_000 + i * 60_000).toISOString(),
  provider: "openai",
  model: ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"][i % 3] as string,
  operation: OPS[i % OPS.length] as string,
  user_id: `user-${i % 6}`,
  agent_id: `agent-${i % 2}`,
  input_tokens: 100 + i,
  output_tokens: 10,
  cost_usd: 0.001 * (1 + (i % 4)),
  status_code: 200,
  // Every fourth event has no team: the "(none)" group.
  tags: (i % 4 === 3 ? { feature: `f${i % 2}` } : { team: TEAMS[i % 3] as string, feature: `f${i % 2}` }) as Record<string, string>,
}));
const count = (f: (e: Sent) => boolean) => String(events.filter(f).length);

describe("dashboard dimensions in headless Chromium", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tm-dashboard-dims-"));
  let tm: Tokenmeter;
  let browser: Browser;
  let token = "";

  beforeAll(async () => {
    const parsed = loadConfig({ TOKENMETER_DATA_DIR: dataDir, TOKENMETER_PORT: "0", TOKENMETER_DEMO: "0", TOKENMETER_JWT_SECRET: SECRET });
    if (!parsed.ok) throw new Error(parsed.errors.join("; "));
    tm = await startTokenmeter(parsed.config, { logger: pino({ level: "silent" }), mount: [createDashboardRoutes()] });
    token = await tm.issueToken(ORG);
    const res = await fetch(`${tm.url}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(events),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { accepted: number }).accepted).toBe(events.length);
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await tm?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function open(query: string): Promise<{ page: Page; problems: PageProblems; requests: URL[] }> {
    const { page, problems } = await openPage(browser, {});
    const requests: URL[] = [];
    page.on("request", (r) => {
      if (r.url().includes("/v1/analytics/")) requests.push(new URL(r.url()));
    });
    await page.goto(`${tm.url}/${query}#token=${token}`);
    return { page, problems, requests };
  }
  const kpi = (page: Page, id: string) => page.locator(`[data-kpi="${id}"] .kpi-value`).textContent();
  const legend = async (page: Page) => (await page.locator('[data-card="cost"] .legend li').allTextContents()).sort();

  it("stacks the cost by operation, then by a tag key from the catalog (events without it as (none))", async () => {
    const { page, problems, requests } = await open("?range=7d&group=operation");
    await waitForLoad(page, 1);
    expect(requests.some((u) => u.pathname.endsWith("/usage") && u.searchParams.get("group_by") === "operation")).toBe(true);
    expect(await legend(page)).toEqual([...new Set(OPS)].sort());
    // The catalog's tag keys are stack options once the filter lists load.
    await page.waitForSelector('[data-control="group"] option[value="tag.team"]', { state: "attached" });
    requests.length = 0;
    await page.selectOption('[data-control="group"]', "tag.team");
    await waitForLoad(page, 2);
    expect(new URL(page.url()).searchParams.get("group")).toBe("tag.team");
    expect(requests.some((u) => u.pathname.endsWith("/usage") && u.searchParams.get("group_by") === "tag.team")).toBe(true);
    expect(await legend(page)).toEqual(["(none)", ...TEAMS].sort());
    expect(problems.errors).toEqual([]);
    await page.context().close();
  });

  it("multi-select filters send every chosen value, AND across filters, tags included; search narrows the list", async () => {
    const { page, problems, requests } = await open("?range=7d");
    await waitForLoad(page, 1);
    expect(await kpi(page, "requests")).toBe(String(events.length));
    // 1. Two models (OR).
    requests.length = 0;
    await page.selectOption('[data-filter="model"]', ["gpt-4o", "gpt-4o-mini"]);
    await waitForLoad(page, 2);
    expect(new URL(page.url()).searchParams.getAll("model")).toEqual(["gpt-4o", "gpt-4o-mini"]);
    expect(requests.some((u) => u.pathname.endsWith("/summary") && u.searchParams.getAll("model").length === 2)).toBe(true);
    expect(await kpi(page, "requests")).toBe(count((e) => e.model !== "text-embedding-3-small"));
    // 2. And a tag value and an operation (AND across filters).
    await page.waitForSelector('[data-filter="tag.team"] option[value="growth"]', { state: "attached" });
    await page.selectOption('[data-filter="tag.team"]', ["growth", "ml"]);
    await waitForLoad(page, 3);
    await page.selectOption('[data-filter="operation"]', "chat");
    await waitForLoad(page, 4);
    const url = new URL(page.url());
    expect([url.searchParams.getAll("tag.team"), url.searchParams.getAll("operation")]).toEqual([["growth", "ml"], ["chat"]]);
    expect(await kpi(page, "requests")).toBe(
      count((e) => e.model !== "text-embedding-3-small" && (e.tags.team === "growth" || e.tags.team === "ml") && e.operation === "chat"),
    );
    // 3. The user list is searchable: typing keeps the matching options visible.
    await page.fill('[data-filter-search="user_id"]', "user-3");
    const visible = await page.locator('[data-filter="user_id"] option:not([hidden])').allTextContents();
    expect(visible).toEqual(["user-3"]);
    expect(problems.errors).toEqual([]);
    await page.context().close();
  });
});
