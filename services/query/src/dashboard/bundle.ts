import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** One built asset, addressed by a content hash so it can be cached forever. */
export interface Asset {
  path: string;
  body: Uint8Array;
  type: string;
  etag: string;
}

export interface DashboardBundle {
  script: Asset;
  style: Asset;
}

const ENTRY = fileURLToPath(new URL("./client/main.ts", import.meta.url));

/**
 * Bundles the browser code (TypeScript + uPlot + CSS) in memory. It runs once
 * per process at startup (~100 ms), so there is no build step to forget and
 * the served assets always match the source in the workspace.
 */
export async function buildDashboard(): Promise<DashboardBundle> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: "esm",
    target: ["es2022", "chrome110", "firefox115", "safari16"],
    minify: true,
    write: false,
    outdir: "/assets",
    entryNames: "app",
    legalComments: "none",
    logLevel: "silent",
  });
  const js = result.outputFiles.find((f) => f.path.endsWith(".js"));
  const css = result.outputFiles.find((f) => f.path.endsWith(".css"));
  if (!js || !css) throw new Error("dashboard bundle is missing its script or style");
  return {
    script: asset(js.contents, "js", "text/javascript; charset=utf-8"),
    style: asset(css.contents, "css", "text/css; charset=utf-8"),
  };
}

function asset(body: Uint8Array, ext: string, type: string): Asset {
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 16);
  return { path: `/assets/app.${hash}.${ext}`, body, type, etag: `"${hash}"` };
}
