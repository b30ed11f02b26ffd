import { describe, expect, it } from "vitest";
import { createLineArena } from "./line-arena.js";

describe("line arena", () => {
  it("returns views of exactly each line's UTF-8 bytes, across chunk boundaries", () => {
    const arena = createLineArena(64);
    const lines = ["a\tb\n", "ünï ✓ 🚀\n", "x".repeat(100), "", "tail\n"];
    const views = lines.map((l) => arena.add(l));
    expect(views.map((v) => v.toString("utf8"))).toEqual(lines);
    expect(views[1]!.length).toBe(Buffer.byteLength(lines[1]!));
    // Later writes never overwrite earlier views.
    for (let i = 0; i < 50; i++) arena.add(`filler ${i}\n`);
    expect(Buffer.concat(views).toString("utf8")).toBe(lines.join(""));
  });
});
