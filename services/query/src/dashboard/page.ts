import type { DashboardBundle } from "./bundle.js";

/** The SVG mark, also served as the favicon (a missing favicon is a console error). */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#4f46e5"/><path d="M8 22V14M13 22V9M18 22v-6M23 22V11" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>`;

/**
 * The HTML shell. Everything dynamic is rendered by the script; the shell only
 * carries the asset links (hashed) and a no-script notice.
 */
export function renderPage(bundle: DashboardBundle): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Tokenmeter</title>
<link rel="icon" type="image/svg+xml" href="/favicon.svg">
<link rel="stylesheet" href="${bundle.style.path}">
<script type="module" src="${bundle.script.path}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The Tokenmeter dashboard needs JavaScript.</noscript>
</body>
</html>
`;
}
