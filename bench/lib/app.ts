import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { benchDataDir, removeDataDir } from "./chdb.js";
import { REPO_DIR } from "./results.js";

export interface AppHandle {
  url: string;
  pid: number;
  tokens: Record<string, string>;
  /** SIGTERM, wait for a clean exit (bounded), remove the data dir. */
  stop(): Promise<void>;
}

export interface SpawnAppOptions {
  scenario: string;
  /** Extra node flags, e.g. ["--cpu-prof", "--cpu-prof-dir=..."]. */
  nodeFlags?: string[];
  /** Orgs to issue tokens for. */
  orgs?: string[];
  startTimeoutMs?: number;
  /** The app's pino level (stderr); "info" shows every flush. */
  logLevel?: string;
  /**
   * "app": the all-in-one (startTokenmeter). "writer": HTTP ingest alone with
   * a tunable batch policy (writer-process.ts), for before/after comparisons.
   * "kafka": the Kafka consumer + query API on one store (kafka-process.ts).
   */
  process?: "app" | "writer" | "kafka";
  /** Extra --key=value arguments for the process (e.g. --max-delay-ms=50). */
  extraArgs?: string[];
}

/**
 * Starts the all-in-one in its own process (own chDB data dir, own core
 * share), so the load generator in the bench process does not steal its
 * event loop, and its RSS is its own.
 */
export async function spawnApp(opts: SpawnAppOptions): Promise<AppHandle> {
  const dataDir = `${benchDataDir(opts.scenario)}-app`;
  const script = `bench/lib/${opts.process ?? "app"}-process.ts`;
  const args = [...(opts.nodeFlags ?? []), "--import", "tsx", script, `--data-dir=${dataDir}`, ...(opts.extraArgs ?? [])];
  if (opts.orgs) args.push(`--orgs=${opts.orgs.join(",")}`);
  if (opts.logLevel) args.push(`--log-level=${opts.logLevel}`);
  const child = spawn(process.execPath, args, { cwd: REPO_DIR, stdio: ["ignore", "pipe", "inherit"] });
  const ready = await firstLine(child, opts.startTimeoutMs ?? 120_000);
  const info = JSON.parse(ready) as { url: string; pid: number; tokens: Record<string, string> };
  return {
    ...info,
    async stop() {
      await stopChild(child, 60_000);
      removeDataDir(dataDir);
    },
  };
}

function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`app did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`app exited with ${code} before serving`));
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
