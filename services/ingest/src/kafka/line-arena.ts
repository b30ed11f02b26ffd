/**
 * Serialized rows written into large shared buffers instead of kept as JS
 * strings or views: a staged batch is ~100k lines that live for seconds, and
 * as strings they were copied by every young-generation GC they survived (GC
 * was a fifth of the ingest main thread). A line is its chunk and byte range;
 * an insert copies the ranges out once.
 */
export interface LineArena {
  /** Writes `line` (UTF-8) and says where it went. */
  add(line: string): LineRef;
}

/** Where a line's bytes are: `chunk[start, end)`. */
export interface LineRef {
  chunk: Buffer;
  start: number;
  end: number;
}

export function createLineArena(chunkBytes = 1 << 20): LineArena {
  let chunk = Buffer.allocUnsafe(chunkBytes);
  let used = 0;
  return {
    add(line) {
      // One UTF-16 unit encodes to at most 3 bytes: check before writing so a line never straddles chunks.
      const worst = line.length * 3;
      if (used + worst > chunk.length) {
        chunk = Buffer.allocUnsafe(Math.max(chunkBytes, worst));
        used = 0;
      }
      const start = used;
      used += chunk.write(line, used, "utf8");
      return { chunk, start, end: used };
    },
  };
}

/** The lines, in order, as one buffer after `head`. */
export function joinLines(head: Buffer, lines: readonly LineRef[]): Buffer {
  let bytes = head.length;
  for (const l of lines) bytes += l.end - l.start;
  const out = Buffer.allocUnsafe(bytes);
  let at = head.copy(out, 0);
  for (const l of lines) at += l.chunk.copy(out, at, l.start, l.end);
  return out;
}
