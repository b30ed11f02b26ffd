import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A flush that was started: its exact payload and token, so it can be redone identically. */
export interface JournaledFlush {
  token: string;
  payload: Buffer;
}

/**
 * Where the writer notes a flush before its insert and forgets it after.
 * ClickHouse writes the raw part before the MV parts, so a process killed
 * mid-insert can leave a batch in llm_usage but not in the rollups; redoing
 * the same payload under the same token completes the rollups and is a no-op
 * where it had landed. Any other retry (new batch, new token) would find the
 * events stored and drop them, leaving the rollups short.
 */
export interface FlushJournal {
  record(f: JournaledFlush): Promise<void>;
  forget(token: string): Promise<void>;
  /** Flushes recorded and never forgotten (by a process that died). */
  leftovers(): Promise<JournaledFlush[]>;
}

/** No journal: in-process retries still redo a failed insert identically; a killed process loses that. */
export const noFlushJournal: FlushJournal = {
  record: async () => {},
  forget: async () => {},
  leftovers: async () => [],
};

const SUFFIX = ".jsonl";

/**
 * A journal of one file per flush in `dir` (one writer process per dir).
 * Written to a temp name and renamed, so a leftover is always a whole payload;
 * not fsynced: it must survive the process being killed, which the page cache
 * does, and a machine crash loses ClickHouse's own unsynced parts as well.
 */
export async function fileFlushJournal(dir: string): Promise<FlushJournal> {
  await mkdir(dir, { recursive: true });
  const path = (token: string) => join(dir, `${token}${SUFFIX}`);
  return {
    async record({ token, payload }) {
      await writeFile(`${path(token)}.tmp`, payload);
      await rename(`${path(token)}.tmp`, path(token));
    },
    async forget(token) {
      await rm(path(token), { force: true });
    },
    async leftovers() {
      const files = (await readdir(dir)).sort();
      const found: JournaledFlush[] = [];
      for (const f of files) {
        if (f.endsWith(".tmp")) await rm(join(dir, f), { force: true });
        else if (f.endsWith(SUFFIX)) found.push({ token: f.slice(0, -SUFFIX.length), payload: await readFile(join(dir, f)) });
      }
      return found;
    },
  };
}
