import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDashboardRoutes } from "@tokenmeter/query";
import { pino } from "pino";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTokenmeter, type Tokenmeter } from "../apps/tokenmeter/src/app.js";
import { loadConfig } from "../apps/tokenmeter/src/config.js";
import { launchBrowser, openPage } from "./support/browser.js";

// The Budgets panel in a real Chromium: a budget's bar and figures from its
// status, its per-group table on click, and the alert history.
const SECRET = "dashboard-budgets-secret-0123456789";
const ORG = "acme-budgets";

describe("dashboard budgets panel in headless Chromium", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tm-dash-budgets-"));
  let tm: Tokenmeter;
  let browser: Browser;
  let token = "";
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${tm.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.clone().text()).toBeLessThan(300);
    return (await res.json()) as Record<string, unknown>;
  };

  beforeAll(async () => {
    const parsed = loadConfig({ TOKENMETER_DATA_DIR: dataDir, TOKENMETER_PORT: "0", TOKENMETER_DEMO: "0", TOKENMETER_JWT_SECRET: SECRET });
    if (!parsed.ok) throw new Error(parsed.errors.join("; "));
    tm = await startTokenmeter(parsed.config, { logger: pino({ level: "silent" }), mount: [createDashboardRoutes()] });
    token = await tm.issueToken(ORG);
    const now = Date.now();
    const events = ["ann", "ann", "ann", "bob"].map((user, i) => ({
      event_id: randomUUID(),
      event_time: new Date(now - 60_000 - i * 1000).toISOString(),
      provider: "openai",
      model: "gpt-4o",
      user_id: user,
      input_tokens: 100,
      output_tokens: 10,
      cost_usd: 1,
      status_code: 200,
    }));
    await post("/v1/events", events);
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await tm?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("without a per-user budget the Users card shows no budget bars", async () => {
    // A budget split per another dimension is not a per-user one.
    await post("/v1/budgets", {
      name: "Per agent",
      metric: "requests",
      limit: 100,
      window: { period: "month", tz: "UTC" },
      per: "agent_id",
    });
    const { page, problems } = await openPage(browser);
    await page.goto(`${tm.url}/#token=${token}`);
    await page.locator('[data-card="users"][data-state="ready"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-card="budgets"]:not([data-state="loading"])').waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-card="users"] tbody tr').count()).toBe(2);
    expect(await page.locator('[data-card="users"] [data-budget-bar]').count()).toBe(0);
    expect(await page.locator('[data-card="users"] th[data-key="budget"]').count()).toBe(0);
    expect(problems.errors).toEqual([]);
  });

  it("shows each budget's spent, limit and per-group table", async () => {
    const b = await post("/v1/budgets", {
      name: "Per user daily",
      metric: "cost_usd",
      limit: 2,
      window: { period: "day", tz: "UTC" },
      per: "user_id",
      enforcement: "hard",
    });
    const { page, problems } = await openPage(browser);
    await page.goto(`${tm.url}/#token=${token}`);
    const row = page.locator(`[data-budget="${b.id}"]`);
    await row.waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toContain("$4.00 of $2.00");
    expect(await page.locator('[data-card="budgets"]').getAttribute("data-state")).toBe("ready");
    const groups = page.locator(`.budget:has([data-budget="${b.id}"]) .budget-groups tbody tr`);
    expect(await groups.first().isVisible()).toBe(false);
    await row.click();
    expect(await groups.first().isVisible()).toBe(true);
    expect(await groups.count()).toBe(2);
    expect(await groups.first().textContent()).toContain("ann");
    expect(await groups.first().textContent()).toContain("exceeded");
    // The alert history loads on its own request: wait for it to settle, then it must be the empty state.
    await page.locator('[data-card="alerts"]:not([data-state="loading"])').waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-card="alerts"]').getAttribute("data-state")).toBe("empty");
    expect(problems.errors).toEqual([]);
  });

  it("on the Users card, each user's bar of every per-user budget, from the budgets' own status calls", async () => {
    // The earlier tests' budgets (per agent; $2 per user a day: ann $3, bob $1) and one per user on requests.
    const byRequests = await post("/v1/budgets", {
      name: "Per user requests",
      metric: "requests",
      limit: 4,
      window: { rolling_hours: 24 },
      per: "user_id",
    });
    const list = (await (await fetch(`${tm.url}/v1/budgets`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      budgets: { id: string; name: string }[];
    };
    const byCost = list.budgets.find((b) => b.name === "Per user daily");
    expect(list.budgets).toHaveLength(3);
    const { page, problems } = await openPage(browser);
    const statusCalls: string[] = [];
    page.on("request", (r) => {
      if (/\/v1\/budgets\/[^/]+\/status/.test(r.url())) statusCalls.push(r.url());
    });
    await page.goto(`${tm.url}/#token=${token}`);
    await page.locator('[data-card="users"] [data-budget-bar]').first().waitFor({ timeout: 30_000 });
    const bars = async (user: string) =>
      await page
        .locator('[data-card="users"] tbody tr', { hasText: user })
        .locator("[data-budget-bar]")
        .evaluateAll((els) =>
          els.map((e) => ({
            id: e.getAttribute("data-budget-bar"),
            pct: e.getAttribute("data-pct"),
            state: e.getAttribute("data-state"),
            title: e.getAttribute("title"),
          })),
        );
    const ann = await bars("ann");
    const bob = await bars("bob");
    expect(ann.map((b) => [b.id, b.pct, b.state])).toEqual([
      [byCost?.id, "150", "exceeded"],
      [byRequests.id, "75", "ok"],
    ]);
    expect(bob.map((b) => [b.id, b.pct, b.state])).toEqual([
      [byCost?.id, "50", "ok"],
      [byRequests.id, "25", "ok"],
    ]);
    // The title says the figures and when the window resets (a rolling one never does).
    expect(ann[0]?.title).toMatch(/^Per user daily: \$3\.00 of \$2\.00 \(150%\) · resets /);
    expect(bob[1]?.title).toContain("rolling window");
    // The fill is the pct (capped at the bar's end).
    const fills = await page
      .locator('[data-card="users"] tbody tr', { hasText: "bob" })
      .locator(".user-budget-fill")
      .evaluateAll((els) => els.map((e) => (e as HTMLElement).style.width));
    expect(fills).toEqual(["50%", "25%"]);
    // One status call per budget (the Budgets panel's), none for the Users card's rows.
    await page.locator('[data-card="budgets"][data-state="ready"]').waitFor({ timeout: 30_000 });
    expect(statusCalls).toHaveLength(3);
    expect(problems.errors).toEqual([]);
  });
});
