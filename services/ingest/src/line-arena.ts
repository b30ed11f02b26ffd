/**
 * Serialized rows written into large shared buffers instead of kept as JS
 * strings: a staged batch is ~100k lines that live for seconds, and as
 * strings they were copied by every young-generation GC they survived (GC
 * was a fifth of the ingest main thread). The views returned point into
 * buffers outside the JS heap; an insert copies them out once.
 */
export interface LineArena {
  /** Writes `line` (UTF-8) and returns a view of exactly its bytes. */
  add(line: string): Buffer;
}

export function createLineArena(chunkBytes = 1 << 20): LineArena {
  let chunk = Buffer.allocUnsafe(chunkBytes);
  let used = 0;
  return {
    add(line) {
      // One UTF-16 unit encodes to at most 3 bytes: check before writing so a view never straddles chunks.
      const worst = line.length * 3;
      if (used + worst > chunk.length) {
        chunk = Buffer.allocUnsafe(Math.max(chunkBytes, worst));
        used = 0;
      }
      const n = chunk.write(line, used, "utf8");
      const view = chunk.subarray(used, used + n);
      used += n;
      return view;
    },
  };
}
