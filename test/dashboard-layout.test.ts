import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAllInOne, startAllInOne } from "./support/all-in-one.js";
import { launchBrowser, openPage, waitForLoad } from "./support/browser.js";

// The dashboard as a new user meets it: the all-in-one with its demo data (a
// small set, same shape), at a desktop and a phone size, on every range.
const VIEWPORTS = [
  { name: "desktop", width: 1440, height: 900 },
  { name: "phone", width: 390, height: 844 },
] as const;
const RANGES = ["24h", "7d", "30d", "90d", "month"] as const;
const CARDS = ["cost", "tokens", "latency", "errors", "models", "agents", "users"];

describe("dashboard layout and states in headless Chromium", () => {
  let aio: RunningAllInOne;
  let browser: Browser;

  beforeAll(async () => {
    aio = await startAllInOne();
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await aio?.stop();
  });

  async function open(query: string, viewport: { width: number; height: number } = VIEWPORTS[0]) {
    const { page, problems } = await openPage(browser, { viewport });
    await page.goto(`${aio.url}/${query}#token=${aio.token}`);
    await waitForLoad(page, 1);
    return { page, problems };
  }

  /** Horizontal overflow of the page, and cards that are not wholly inside the viewport's width. */
  const layout = (page: Page) =>
    page.evaluate((cards) => {
      const width = window.innerWidth;
      const outside = cards.filter((c) => {
        const r = document.querySelector(`[data-card="${c}"]`)?.getBoundingClientRect();
        return !r || r.width === 0 || r.height === 0 || r.left < 0 || r.right > width + 0.5;
      });
      return { overflow: document.documentElement.scrollWidth - width, outside };
    }, CARDS);

  for (const vp of VIEWPORTS) {
    it(`${vp.name} ${vp.width}×${vp.height}: no horizontal overflow and every card shown, on every range`, async () => {
      const { page, problems } = await open("?range=7d", vp);
      for (const [i, range] of RANGES.entries()) {
        if (i > 0) {
          if (vp.name === "phone") await page.click('[data-control="filters-toggle"]');
          await page.click(`[data-range="${range}"]`);
          await waitForLoad(page, i + 1);
          if (vp.name === "phone") await page.click('[data-control="filters-toggle"]');
        }
        expect(await layout(page), range).toEqual({ overflow: 0, outside: [] });
        for (const card of CARDS)
          expect(await page.locator(`[data-card="${card}"]`).getAttribute("data-state"), `${range} ${card}`).toBe("ready");
      }
      expect(problems.errors).toEqual([]);
      await page.context().close();
    });
  }

  it("phone: range and filters fold behind a Filters button; wide tables scroll inside their card", async () => {
    const { page } = await open("?range=30d", VIEWPORTS[1]);
    const toggle = page.locator('[data-control="filters-toggle"]');
    expect(await toggle.isVisible()).toBe(true);
    expect(await page.locator('[data-range="7d"]').isVisible()).toBe(false);
    expect(await page.locator('[data-filter="provider"]').isVisible()).toBe(false);
    await toggle.click();
    expect(await toggle.getAttribute("aria-expanded")).toBe("true");
    expect(await page.locator('[data-range="7d"]').isVisible()).toBe(true);
    expect(await page.locator('[data-filter="provider"]').isVisible()).toBe(true);
    expect(await layout(page)).toEqual({ overflow: 0, outside: [] });
    // The models table is wider than a phone: it scrolls in its wrapper, the model column stays put.
    const wrap = page.locator('[data-card="models"] .table-wrap');
    const widths = await wrap.evaluate((el) => ({ client: el.clientWidth, scroll: el.scrollWidth }));
    expect(widths.scroll).toBeGreaterThan(widths.client);
    const first = page.locator('[data-card="models"] tbody tr:first-child td:first-child');
    const before = await first.boundingBox();
    await wrap.evaluate((el) => {
      el.scrollLeft = 200;
    });
    expect((await first.boundingBox())?.x).toBeCloseTo(before?.x ?? -1, 0);
    // Desktop: no Filters button, the controls are always there.
    const desk = await open("?range=30d");
    expect(await desk.page.locator('[data-control="filters-toggle"]').isVisible()).toBe(false);
    expect(await desk.page.locator('[data-filter="provider"]').isVisible()).toBe(true);
    await desk.page.context().close();
    await page.context().close();
  });

  it("90 days against a near-empty previous period: changes read new, not ▲ 300,000 %", async () => {
    const { page } = await open("?range=90d");
    const s = (await (
      await fetch(`${aio.url}/v1/analytics/summary?start=${new Date(Date.now() - 89 * 86_400_000).toISOString()}`, {
        headers: { authorization: `Bearer ${aio.token}` },
      })
    ).json()) as { requests: number; previous: { requests: number } };
    // The demo spans 90 days: the period before the 90-day preset holds (almost) nothing.
    expect(s.previous.requests * 20).toBeLessThan(s.requests);
    for (const id of ["cost", "requests", "tokens", "agents"]) {
      const tile = page.locator(`[data-kpi="${id}"]`);
      expect(await tile.getAttribute("data-baseline"), id).toBe("too-small");
      expect(await tile.locator(".kpi-delta").textContent(), id).toBe("new");
    }
    // 7 days has a real baseline: a percentage.
    await page.click('[data-range="7d"]');
    await waitForLoad(page, 2);
    expect(await page.locator('[data-kpi="requests"]').getAttribute("data-baseline")).toBe("ok");
    expect(await page.locator('[data-kpi="requests"] .kpi-delta').textContent()).toMatch(/^[▲▼]? ?\d+(\.\d)?%$|^±0%$/);
    await page.context().close();
  });

  it("a filter that matches nothing says so, with a clear-filters button that brings the data back", async () => {
    const { page, problems } = await open("?range=7d&provider=gemini&model=gpt-4o");
    const banner = page.locator('[data-testid="empty-banner"]');
    expect(await banner.isVisible()).toBe(true);
    expect(await banner.textContent()).toContain("No usage matches these filters");
    expect(await banner.textContent()).not.toContain("has not sent any events");
    await banner.locator('[data-control="banner-clear-filters"]').click();
    await waitForLoad(page, 2);
    expect(await banner.isVisible()).toBe(false);
    expect(new URL(page.url()).searchParams.get("provider")).toBeNull();
    expect(Number(await page.locator('[data-kpi="requests"]').getAttribute("data-value"))).toBeGreaterThan(0);
    expect(problems.errors).toEqual([]);
    await page.context().close();
  });

  it("unpriced models are tagged in the table and the Unpriced tile links to them; no non-zero cost reads $0.00", async () => {
    const { page } = await open("?range=30d");
    const tagged = await page.locator('[data-card="models"] tbody tr:has([data-unpriced])').allTextContents();
    expect(tagged).toHaveLength(1);
    expect(tagged[0]).toContain("ft:acme-support-v2");
    expect(tagged[0]).toContain("unpriced");
    const costs = await page.locator('[data-card="models"] tbody tr:not(:has([data-unpriced])) td:nth-child(6)').allTextContents();
    expect(costs.length).toBeGreaterThan(3);
    for (const c of costs) expect(c, c).not.toMatch(/^\$0\.0*$/);
    await page.click('[data-control="unpriced-link"]');
    await page.waitForFunction(() => {
      const r = document.querySelector('[data-card="models"]')?.getBoundingClientRect();
      return r !== undefined && r.top < window.innerHeight && r.bottom > 0;
    });
    expect(new URL(page.url()).hash).toBe("");
    await page.context().close();
  });

  it("one color and one order per group in both trend charts; the running bucket is marked partial", async () => {
    const { page } = await open("?range=7d&group=model");
    const legend = (card: string) =>
      page
        .locator(`[data-card="${card}"] .legend li`)
        .evaluateAll((lis) => lis.map((li) => `${li.textContent}:${(li.querySelector(".swatch") as HTMLElement).style.background}`));
    const cost = await legend("cost");
    expect(cost.length).toBeGreaterThan(3);
    expect(await legend("tokens")).toEqual(cost);
    // Hover the last (today's) bar: the tooltip names it partial.
    const over = await page.locator('[data-card="cost"] .u-over').boundingBox();
    if (!over) throw new Error("no chart");
    await page.mouse.move(over.x + over.width - 3, over.y + over.height / 2);
    const tip = page.locator('[data-card="cost"] .tip.on .tip-head');
    await tip.waitFor({ timeout: 5_000 });
    expect(await tip.textContent()).toContain("partial");
    await page.mouse.move(over.x + over.width / 2, over.y + over.height / 2);
    expect(await tip.textContent()).not.toContain("partial");
    await page.context().close();
  });

  it("an event sent this minute is on the dashboard at once (its range ends after now)", async () => {
    // Two whole-hour zones: the same 24 h of instants, two cache keys (no cached answer from before the write).
    const first = await open("?range=24h&tz=Asia/Tokyo");
    const before = Number(await first.page.locator('[data-kpi="requests"]').getAttribute("data-value"));
    await first.page.context().close();
    const res = await fetch(`${aio.url}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${aio.token}`, "content-type": "application/json" },
      body: JSON.stringify([
        {
          event_id: crypto.randomUUID(),
          event_time: new Date().toISOString(),
          provider: "openai",
          model: "gpt-4o-mini",
          input_tokens: 10,
          output_tokens: 5,
          status_code: 200,
        },
      ]),
    });
    expect(res.status).toBe(200);
    const second = await open("?range=24h&tz=Europe/Paris");
    expect(Number(await second.page.locator('[data-kpi="requests"]').getAttribute("data-value"))).toBe(before + 1);
    await second.page.context().close();
  });
});
