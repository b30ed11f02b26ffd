import { relative } from "node:path";
import { REPO_DIR } from "./results.js";

/** The parts of V8's .cpuprofile JSON we read. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Cost {
  name: string;
  self_ms: number;
  self_pct: number;
}

export interface ProfileSummary {
  total_ms: number;
  /** Main thread not idle and not loading modules: JS, GC, and native code called from JS. */
  busy_ms: number;
  /** Module loading and compiling at process start, left out of busy and of the shares. */
  startup_ms: number;
  top_functions: Cost[];
  /** Self time grouped by package / repo directory (what to optimize, at a glance). */
  by_area: Cost[];
}

/** Self time per function and per area of a profile, largest first. */
export function summarizeProfile(p: CpuProfile, top = 20): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let startup = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const frame = byId.get(p.samples[i]!);
    const us = p.timeDeltas[i] ?? 0;
    total += us;
    if (!frame) continue;
    if (frame.functionName === "(idle)") {
      idle += us;
      continue;
    }
    // --cpu-prof covers the whole process: keep process start (module loading, tsx compiling) apart.
    if (isStartup(frame.url)) {
      startup += us;
      continue;
    }
    // tsx-compiled modules report line 0; the file name is then the useful part.
    const where = frame.url ? `${shortUrl(frame.url)}${frame.lineNumber > 0 ? `:${frame.lineNumber + 1}` : ""}` : "";
    const key = `${frame.functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const a = areaOf(frame.url, frame.functionName);
    area.set(a, (area.get(a) ?? 0) + us);
  }
  const busy = total - idle - startup;
  const costs = (m: Map<string, number>, n: number): Cost[] =>
    [...m.entries()]
      .sort((x, y) => y[1] - x[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, self_ms: Math.round(us / 1000), self_pct: Math.round((us / Math.max(1, busy)) * 1000) / 10 }));
  return {
    total_ms: Math.round(total / 1000),
    busy_ms: Math.round(busy / 1000),
    startup_ms: Math.round(startup / 1000),
    top_functions: costs(fn, top),
    by_area: costs(area, 15),
  };
}

function isStartup(url: string): boolean {
  return (
    url.startsWith("node:internal/modules/") || url.startsWith("node:internal/deps/cjs-module-lexer") || url.includes("node_modules/tsx/")
  );
}

function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, "");
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) return path.slice(nm + "node_modules/".length);
  return path.startsWith("/") ? relative(REPO_DIR, path) : path;
}

/** node_modules package, repo directory (services/ingest/src/…), node internals, or a V8 pseudo-frame. */
function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const path = url.replace(/^file:\/\//, "");
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = path.slice(nm + "node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (path.startsWith("node:")) return "node internals";
  if (path.startsWith("/")) return relative(REPO_DIR, path).split("/").slice(0, 3).join("/");
  return path;
}
