import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/** Whether the embedded engine's library is mapped into a fresh process after running `code` (an ES module body). */
async function engineMappedAfter(code: string): Promise<boolean> {
  const script = `${code}\nconst { readFileSync } = await import("node:fs");\nprocess.stdout.write(String(readFileSync("/proc/self/maps", "utf8").includes("libchdb")));`;
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: ROOT,
    timeout: 60_000,
  });
  return stdout.trim() === "true";
}

// The services on a server (HTTP driver) import this package, and with it the
// embedded driver; the engine's library costs ~170 MB of RSS once loaded, so it
// loads when an embedded store opens, not when the package is imported.
describe("the embedded engine loads only when an embedded store opens", () => {
  it("is not mapped by importing the store package or the services", async () => {
    expect(
      await engineMappedAfter(
        `await import("@tokenmeter/clickhouse"); await import("@tokenmeter/ingest"); await import("@tokenmeter/query"); await import("@tokenmeter/pricing-refresh");`,
      ),
    ).toBe(false);
  });

  it("is mapped once ChdbStore.open runs (the check can fail)", async () => {
    expect(
      await engineMappedAfter(
        `const { ChdbStore } = await import("@tokenmeter/clickhouse"); const { mkdtempSync } = await import("node:fs"); const s = await ChdbStore.open({ dataDir: mkdtempSync("/tmp/tm-engine-load-") }); await s.close();`,
      ),
    ).toBe(true);
  });
});
