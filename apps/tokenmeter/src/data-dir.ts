import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * The process that holds an embedded-engine data dir, if another live one
 * does. chDB allows one process per directory and records the holder's PID in
 * `<dir>/status`; opening it anyway fails with a native "Cannot lock file"
 * dump, so callers check first and say what to do. A status file left by a
 * crashed process names a dead PID and does not count.
 */
export function dataDirHolder(dataDir: string): number | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, "status"), "utf8");
  } catch {
    return null;
  }
  const pid = Number(/^PID:\s*(\d+)/m.exec(text)?.[1] ?? Number.NaN);
  if (!Number.isInteger(pid) || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: alive but another user's; ESRCH: gone.
    return (err as NodeJS.ErrnoException).code === "EPERM" ? pid : null;
  }
}

/** One line saying who holds the dir and what to do instead. */
export function dataDirInUseMessage(what: string, dataDir: string, pid: number): string {
  return (
    `${what}: the data dir ${resolve(dataDir)} is in use by a running Tokenmeter (pid ${pid}); ` +
    "the embedded engine allows one process per data dir. Stop it (Ctrl+C) and run this again, " +
    "or point TOKENMETER_DATA_DIR at another directory."
  );
}
