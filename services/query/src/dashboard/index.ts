import type { Context } from "hono";
import { Hono } from "hono";
import { type Asset, buildDashboard, type DashboardBundle } from "./bundle.js";
import { FAVICON_SVG, renderPage } from "./page.js";

/**
 * Strict CSP: only our own hashed script and stylesheet, API calls to our own
 * origin, no inline code at all. uPlot styles elements through the CSSOM,
 * which CSP does not restrict, so no 'unsafe-inline' is needed.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const IMMUTABLE = "public, max-age=31536000, immutable";

/**
 * The dashboard: `GET /` (the page shell) and its hashed static assets. The
 * page holds no data and needs no auth; the browser calls `/v1/analytics/*`
 * with the token the user supplies.
 */
export function createDashboardRoutes(): Hono {
  const app = new Hono();
  // Built once, lazily awaited; a build error surfaces as a 500 on the page.
  let bundle: Promise<DashboardBundle> | undefined;
  const getBundle = () => {
    bundle ??= buildDashboard();
    return bundle;
  };
  void getBundle().catch(() => undefined);

  app.get("/", async (c) => {
    const html = renderPage(await getBundle());
    secure(c);
    // The shell is tiny and names the current asset hashes: always revalidate.
    c.header("Cache-Control", "no-cache");
    return c.html(html);
  });
  app.get("/assets/:file", async (c) => {
    const b = await getBundle();
    const found = [b.script, b.style].find((a) => a.path === c.req.path);
    if (!found) return c.notFound();
    return serveAsset(c, found, IMMUTABLE);
  });
  // Browsers ask for /favicon.ico on their own (e.g. for a non-HTML tab): answer it too, not with a 404.
  const favicon = (c: Context) => {
    c.header("Cache-Control", "public, max-age=86400");
    c.header("Content-Type", "image/svg+xml");
    return c.body(FAVICON_SVG);
  };
  app.get("/favicon.svg", favicon);
  app.get("/favicon.ico", favicon);
  return app;
}

function serveAsset(c: Context, asset: Asset, cacheControl: string): Response {
  c.header("Cache-Control", cacheControl);
  c.header("ETag", asset.etag);
  c.header("X-Content-Type-Options", "nosniff");
  if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304);
  c.header("Content-Type", asset.type);
  return c.body(asset.body as Uint8Array<ArrayBuffer>);
}

function secure(c: Context): void {
  c.header("Content-Security-Policy", DASHBOARD_CSP);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "no-referrer");
  c.header("X-Frame-Options", "DENY");
}
