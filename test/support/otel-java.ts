import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ScenarioSpan } from "./otel-scenario.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/**
 * The OpenTelemetry Java SDK jars: TOKENMETER_TEST_OTEL_JAVA_LIBS (set by
 * scripts/test.d/25-otel-java.sh); running one test file by hand resolves
 * them the same way (cached in .cache/otel-java).
 */
export function otelJavaLibs(): string {
  const given = process.env.TOKENMETER_TEST_OTEL_JAVA_LIBS;
  if (given) return given;
  return execFileSync(join(REPO, "scripts/otel-java/resolve.sh"), { encoding: "utf8", timeout: 300_000 }).trim();
}

/** Compiles test/java/GenAiExport.java against the jars; returns the classpath to run it with. */
export function compileJavaExporter(libs: string): string {
  const classes = mkdtempSync(join(tmpdir(), "otel-java-"));
  execFileSync("javac", ["-d", classes, "-cp", `${libs}/*`, join(REPO, "test/java/GenAiExport.java")], { timeout: 120_000 });
  return `${libs}/*:${classes}`;
}

/** The scenario as GenAiExport reads it from stdin (tab-separated, typed attributes). */
export function scenarioTsv(spans: ScenarioSpan[]): string {
  return spans
    .map((s) => {
      const attrs = Object.entries(s.attributes).map(
        ([k, v]) => `${k}=${typeof v === "string" ? "s" : Number.isInteger(v) ? "i" : "d"}:${v}`,
      );
      return [s.name, s.startOffsetMs, s.durationMs, s.error ?? "", ...attrs].join("\t");
    })
    .join("\n");
}

/** Runs the Java program (bounded in time); resolves with its stdout. */
export function runJavaExporter(classpath: string, args: string[], stdin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile("java", ["-cp", classpath, "GenAiExport", ...args], { timeout: 90_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`GenAiExport failed: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
    child.stdin?.end(stdin);
  });
}
