import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RunningAllInOne {
  url: string;
  token: string;
  dataDir: string;
  child: ChildProcess;
  /** Everything printed so far, stdout and stderr interleaved. */
  output(): string;
  /** SIGINT (Ctrl+C) or SIGTERM; resolves with the exit code; removes the data dir unless `keep`. */
  stop(signal?: NodeJS.Signals, keep?: boolean): Promise<number | null>;
}

/**
 * Starts the real all-in-one (`pnpm start`'s entry point) as a user does, on a
 * fresh data dir and a free port, and waits for the printed dashboard URL.
 * A small demo keeps it fast (20,000 events load in a few seconds).
 */
export async function startAllInOne(env: Record<string, string> = {}, timeoutMs = 90_000): Promise<RunningAllInOne> {
  const dataDir = env.TOKENMETER_DATA_DIR ?? mkdtempSync(join(tmpdir(), "tm-aio-"));
  // As `pnpm start` runs it: tsx as a loader in the one process (the tsx CLI would relay signals to a child).
  const child = spawn(process.execPath, ["--import", "tsx", "apps/tokenmeter/src/main.ts"], {
    cwd: join(import.meta.dirname, "../.."),
    env: {
      ...process.env,
      TOKENMETER_PORT: "0",
      TOKENMETER_DEMO_EVENTS: "20000",
      TOKENMETER_LOG_LEVEL: "warn",
      ...env,
      TOKENMETER_DATA_DIR: dataDir,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stderr?.on("data", (d) => {
    output += String(d);
  });
  child.stdout?.on("data", (d) => {
    output += String(d);
  });
  const found = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no dashboard URL printed within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onExit = (code: number | null) => reject(new Error(`exited with ${code}:\n${output}`));
    child.once("exit", onExit);
    const check = () => {
      const m = /Dashboard:\s+(http:\/\/[^/\s]+)\/#token=(\S+)/.exec(output);
      if (!m) return;
      clearTimeout(timer);
      child.off("exit", onExit);
      child.stdout?.off("data", check);
      resolve(m);
    };
    child.stdout?.on("data", check);
  });
  return {
    url: found[1] as string,
    token: found[2] as string,
    dataDir,
    child,
    output: () => output,
    async stop(signal = "SIGTERM", keep = false) {
      const exited = new Promise<number | null>((r) => {
        if (child.exitCode !== null) r(child.exitCode);
        else child.once("exit", (code) => r(code));
      });
      if (child.exitCode === null) child.kill(signal);
      const code = await exited;
      if (!keep) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
