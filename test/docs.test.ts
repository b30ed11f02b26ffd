import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

function configFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === "node_modules") continue;
    if (statSync(path).isDirectory()) out.push(...configFiles(path));
    else if (/config\.ts$/.test(name)) out.push(path);
  }
  return out;
}

describe("docs", () => {
  it("cite no DESIGN.md unless the repository has one", () => {
    const docs = ["README.md", ...readdirSync(join(root, "docs"), { recursive: true }).map((f) => join("docs", String(f)))];
    const citing = docs.filter((f) => f.endsWith(".md") && /\bDESIGN\b/.test(readFileSync(join(root, f), "utf8")));
    if (!existsSync(join(root, "DESIGN.md"))) expect(citing).toEqual([]);
  });
});

describe("README", () => {
  it("documents every environment variable a config schema reads", () => {
    const table = readme.slice(readme.indexOf("<!-- config-table:start -->"), readme.indexOf("<!-- config-table:end -->"));
    const vars = new Set<string>();
    for (const dir of ["apps", "services", "packages"]) {
      for (const file of configFiles(join(root, dir))) {
        for (const m of readFileSync(file, "utf8").matchAll(/\b(TOKENMETER_[A-Z0-9_]+)\b/g)) {
          if (!m[1]!.endsWith("_")) vars.add(m[1]!);
        }
      }
    }
    expect(vars.size).toBeGreaterThan(10);
    const missing = [...vars].filter((v) => !table.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });

  it("has exactly two quick-start lines, and .ci/run runs the second", () => {
    const section = readme.slice(readme.indexOf("## Quick start"));
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
    const lines = block.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/ start$/);
    expect(lines[1]).toMatch(/ test$/);
    const ci = readFileSync(join(root, ".ci/run"), "utf8");
    expect(ci.split("\n")).toContain(lines[1]);
  });
});

/** One ```sh block of docs/api.md: a setup line (TOKEN=…) or one curl example. */
interface Example {
  code: string;
  /** `# expect: 400` in the block: only the status is checked. Default 200 with non-zero data. */
  expect?: number;
}

function apiExamples(): { setup: string[]; examples: Example[] } {
  const doc = readFileSync(join(root, "docs/api.md"), "utf8");
  const blocks = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  const setup = blocks.filter((b) => !/\bcurl /.test(b));
  const examples = blocks
    .filter((b) => /\bcurl /.test(b))
    .map((code) => {
      const e = /^# expect: (\d{3})$/m.exec(code);
      return { code, ...(e ? { expect: Number(e[1]) } : {}) };
    });
  return { setup, examples };
}

/** A positive number anywhere in a JSON answer, or in a line of a text one (CSV rows, metrics). */
function hasNonZeroData(body: string): boolean {
  try {
    const walk = (v: unknown): boolean =>
      typeof v === "number"
        ? v > 0
        : Array.isArray(v)
          ? v.some(walk)
          : v !== null && typeof v === "object"
            ? Object.values(v).some(walk)
            : false;
    return walk(JSON.parse(body));
  } catch {
    return body.split("\n").some((line) => !line.startsWith("#") && /(^|[ ,])0*[1-9][0-9]*(\.[0-9]+)?($|[ ,])/.test(line));
  }
}

// docs/api.md as a user reads it: every shell block run verbatim (host and
// port replaced) with bash and curl against a started all-in-one on demo data.
describe("docs/api.md examples run against the demo", async () => {
  const { startAllInOne } = await import("./support/all-in-one.js");
  const { execFile } = await import("node:child_process");
  const { promisify } = await import("node:util");
  const sh = promisify(execFile);
  const { setup, examples } = apiExamples();
  let aio: Awaited<ReturnType<typeof startAllInOne>>;
  let token = "";

  beforeAll(async () => {
    aio = await startAllInOne();
  }, 120_000);
  afterAll(async () => {
    await aio?.stop();
  });

  const bash = (code: string, env: Record<string, string>) =>
    sh("bash", ["-euo", "pipefail", "-c", code.replaceAll("http://127.0.0.1:8080", aio.url)], {
      cwd: root,
      env: { ...process.env, ...env },
      timeout: 30_000,
      maxBuffer: 16 * 1024 * 1024,
    });

  it("has a token line and a curl example per endpoint section", () => {
    expect(setup.some((s) => s.includes("tokenmeter token"))).toBe(true);
    expect(examples.length).toBeGreaterThanOrEqual(12);
  });

  it("the token line mints a token the server accepts", async () => {
    const { stdout } = await bash(`${setup.join("\n")}\nprintf %s "$TOKEN"`, { TOKENMETER_DATA_DIR: aio.dataDir });
    token = stdout.trim();
    expect(token.split(".")).toHaveLength(3);
    expect((await fetch(`${aio.url}/v1/analytics/summary`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it.each(
    examples.map(
      (e) =>
        [
          e.code
            .split("\n")
            .find((l) => l.includes("curl"))
            ?.slice(0, 140) ?? "",
          e,
        ] as const,
    ),
  )("%s", async (_name, example) => {
    // The status goes to stderr, so a block may pipe the body (… | grep).
    const code = example.code.replace("curl ", "curl -w '%{stderr}%{http_code}' ");
    const { stdout, stderr } = await bash(code, { TOKEN: token || aio.token });
    const status = Number(stderr.trim().slice(-3));
    expect(status, stdout.slice(0, 500)).toBe(example.expect ?? 200);
    if (example.expect === undefined) expect(hasNonZeroData(stdout), stdout.slice(0, 500)).toBe(true);
  });
});
