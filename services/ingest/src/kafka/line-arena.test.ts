import { describe, expect, it } from "vitest";
import { createLineArena, joinLines } from "./line-arena.js";

describe("line arena", () => {
  it("keeps exactly each line's UTF-8 bytes, across chunk boundaries, and joins them in order", () => {
    const arena = createLineArena(64);
    const lines = ["a\tb\n", "ünï ✓ 🚀\n", "x".repeat(100), "", "tail\n"];
    const refs = lines.map((l) => arena.add(l));
    expect(refs[1]!.end - refs[1]!.start).toBe(Buffer.byteLength(lines[1]!));
    // Later writes never overwrite earlier lines.
    for (let i = 0; i < 50; i++) arena.add(`filler ${i}\n`);
    expect(joinLines(Buffer.from("H\n"), refs).toString("utf8")).toBe(`H\n${lines.join("")}`);
    expect(joinLines(Buffer.alloc(0), []).length).toBe(0);
  });
});
