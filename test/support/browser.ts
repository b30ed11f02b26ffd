import { type Browser, type BrowserContext, type BrowserContextOptions, chromium, type Page } from "playwright-core";

/** Debian's chromium (scripts/test.d/30-chromium.sh installs it and exports the path). */
export const CHROMIUM = process.env.TOKENMETER_TEST_CHROMIUM ?? "/usr/bin/chromium";

/** Headless Chromium, configured for these machines (no sandbox, no GPU, no outbound traffic). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
  });
}

/** What the page printed that a user never should see: console errors, CSP violations, uncaught exceptions. */
export interface PageProblems {
  errors: string[];
}

/**
 * A page in a fresh context (own sessionStorage) with a fixed locale and zone
 * so formatted numbers and buckets are the same on every machine; every
 * console error and page exception is collected.
 */
export async function openPage(
  browser: Browser,
  opts: BrowserContextOptions = {},
): Promise<{ context: BrowserContext; page: Page; problems: PageProblems }> {
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    locale: "en-US",
    timezoneId: "UTC",
    acceptDownloads: true,
    ...opts,
  });
  const page = await context.newPage();
  const problems: PageProblems = { errors: [] };
  page.on("console", (m) => {
    if (m.type() === "error") problems.errors.push(m.text());
  });
  page.on("pageerror", (e) => problems.errors.push(`uncaught: ${e.message}`));
  return { context, page, problems };
}

/** Waits until the dashboard finished load number `n` (body[data-loads] counts completed loads). */
export async function waitForLoad(page: Page, n: number, timeout = 30_000): Promise<void> {
  await page.waitForFunction((want) => document.body.dataset.state === "ready" && Number(document.body.dataset.loads ?? 0) >= want, n, {
    timeout,
  });
}
