import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

// services/ingest is laid out by pipeline: http/ (HTTP ingest: /v1/events,
// /v1/traces), writer/ (the batching writer of the embedded default), kafka/
// (the consumer and the producer sink), dedup/ (stored-id lookups and the
// split around refused rows, shared by both), and the composition at the top.
// This keeps it so.

const SRC = import.meta.dirname;
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : name.endsWith(".ts") ? [relative(SRC, p)] : [];
  });
const sources = files(SRC).filter((f) => !f.endsWith(".test.ts") && f !== "writer/testing.ts");
const importsOf = (f: string) =>
  [...readFileSync(join(SRC, f), "utf8").matchAll(/from "(\.{1,2}\/[^"]+)"/g)].map((m) => join(f, "..", m[1]!));

describe("services/ingest layout", () => {
  it("has no source file over 250 lines", () => {
    const long = sources
      .map((f) => [f, readFileSync(join(SRC, f), "utf8").trimEnd().split("\n").length] as const)
      .filter(([, n]) => n > 250);
    expect(long).toEqual([]);
  });

  it("keeps the pipelines apart: http/ and kafka/ never import each other, nor the writer; only dedup/ and the sink port are shared", () => {
    const folder = (p: string) => p.split("/")[0]!;
    const crossings: string[] = [];
    for (const f of sources) {
      const from = folder(f);
      for (const target of importsOf(f)) {
        const to = folder(target);
        const apart = (a: string, b: string) => from === a && to === b;
        if (apart("http", "kafka") || apart("kafka", "http") || apart("http", "writer") || apart("kafka", "writer"))
          crossings.push(`${f} -> ${target}`);
      }
    }
    expect(crossings).toEqual([]);
    expect(new Set(sources.filter((f) => f.includes("/")).map(folder))).toEqual(new Set(["http", "writer", "kafka", "dedup"]));
  });
});
