import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningAllInOne, startAllInOne } from "./support/all-in-one.js";

const exec = promisify(execFile);
const root = join(import.meta.dirname, "..");
const section = (() => {
  const doc = readFileSync(join(root, "docs/operations.md"), "utf8");
  return doc.slice(doc.indexOf("# One machine (the all-in-one)"));
})();
/** The ```sh blocks of a `## heading` of the one-machine section. */
const blocks = (heading: string) => {
  const part = section.slice(section.indexOf(`## ${heading}`), section.indexOf("\n## ", section.indexOf(`## ${heading}`) + 3));
  return [...part.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
};

// docs/operations.md "One machine", run as written: /var/lib/tokenmeter is a
// temp dir, `systemctl stop/start` is stopping and starting the real
// all-in-one, /backups is a temp dir.
describe("docs/operations.md: one machine", () => {
  const work = mkdtempSync(join(tmpdir(), "tm-ops-"));
  const backups = join(work, "backups");
  mkdirSync(backups);
  let aio: RunningAllInOne | undefined;
  afterAll(async () => {
    await aio?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const bash = async (code: string, dataDir: string) => {
    const script = code
      .replaceAll("systemctl stop tokenmeter", ":")
      .replaceAll("systemctl start tokenmeter", ":")
      .replaceAll("/var/lib/tokenmeter", dataDir)
      .replaceAll("-C /var/lib ", `-C ${dirname(dataDir)} `)
      .replaceAll(" tokenmeter\n", ` ${basename(dataDir)}\n`)
      .replaceAll("/backups", backups)
      .replaceAll("npx -y pnpm@10.26.0 -s tokenmeter", "apps/tokenmeter/bin/tokenmeter");
    return await exec("bash", ["-euo", "pipefail", "-c", script], { cwd: root, timeout: 60_000 });
  };
  // A fixed range: the default one moves with the clock between the two starts.
  const range = `start=${new Date(Date.now() - 30 * 86_400_000).toISOString()}&end=${new Date().toISOString()}`;
  const summary = async (a: RunningAllInOne) =>
    (await (await fetch(`${a.url}/v1/analytics/summary?${range}`, { headers: { authorization: `Bearer ${a.token}` } })).json()) as {
      requests: number;
      cost_usd: number;
    };

  it("mints a token for the running server; backs up when stopped; the restored dir serves the same figures", async () => {
    const dataDir = join(work, "tokenmeter");
    aio = await startAllInOne({ TOKENMETER_DATA_DIR: dataDir });
    const [tokenBlock] = blocks("Minting tokens");
    const { stdout } = await bash(tokenBlock as string, dataDir);
    const minted = await fetch(`${aio.url}/v1/analytics/summary`, { headers: { authorization: `Bearer ${stdout.trim()}` } });
    expect(minted.status).toBe(200);
    const before = await summary(aio);
    expect(before.requests).toBeGreaterThan(0);

    // "Backups": stop, archive, (start).
    expect(await aio.stop("SIGTERM", true)).toBe(0);
    aio = undefined;
    await bash(blocks("Backups")[0] as string, dataDir);
    const archive = join(backups, `tokenmeter-${new Date().toISOString().slice(0, 10)}.tar.gz`);
    // Restore into a fresh directory and start on it.
    const restored = join(work, "restored");
    mkdirSync(restored);
    await exec("tar", ["-C", restored, "--strip-components=1", "-xzf", archive]);
    aio = await startAllInOne({ TOKENMETER_DATA_DIR: restored });
    const after = await summary(aio);
    expect(after.requests).toBe(before.requests);
    expect(after.cost_usd).toBe(before.cost_usd);
  }, 240_000);
});
