import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, hostname, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, "results");
export const REPO_DIR = join(BENCH_DIR, "..");

/** One figure for the summary table: what, how much, in which unit, vs which target. */
export interface Figure {
  scenario: string;
  metric: string;
  value: number;
  unit: string;
  /** e.g. ">= 60000" or "<= 5"; omitted when the issue sets none. */
  target?: string;
  note?: string;
}

export interface BenchResult {
  scenario: string;
  quick: boolean;
  meta: RunMeta;
  figures: Figure[];
  /** Scenario-specific detail (distributions, RSS series, parameters). */
  detail: Record<string, unknown>;
}

export interface RunMeta {
  date: string;
  commit: string;
  dirty: boolean;
  machine: string;
  cores: number;
  mem_gb: number;
  node: string;
  load_avg_1m: number;
}

/** Where and when a figure was taken: the run's date, commit and machine. */
export function runMeta(): RunMeta {
  const git = (args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: REPO_DIR, encoding: "utf8" }).trim();
    } catch {
      return "";
    }
  };
  const load = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
  return {
    date: new Date().toISOString(),
    commit: git(["rev-parse", "--short", "HEAD"]),
    dirty: git(["status", "--porcelain", "--untracked-files=no"]).length > 0,
    machine: `${hostname()} ${cpus()[0]?.model ?? "cpu"}`,
    cores: cpus().length,
    mem_gb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    load_avg_1m: Number(load),
  };
}

/** Writes bench/results/<scenario>.json (what the runner collects) and returns its path. */
export function writeResult(result: Omit<BenchResult, "meta">): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${result.scenario}.json`);
  const full: BenchResult = { ...result, meta: runMeta() };
  writeFileSync(path, `${JSON.stringify(full, null, 2)}\n`);
  return path;
}
