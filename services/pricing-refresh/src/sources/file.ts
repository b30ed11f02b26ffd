import { readFile } from "node:fs/promises";
import { type PriceSource, SourceError } from "./source.js";

/** A document on local disk (an operator's own price list, a mounted ConfigMap). */
export function fileSource(path: string, name = `file:${path}`): PriceSource {
  return {
    name,
    async fetch() {
      try {
        return await readFile(path, "utf8");
      } catch (err) {
        // A missing file may be a volume not mounted yet; let the job retry.
        throw new SourceError(`cannot read ${path}: ${(err as Error).message}`, true, { cause: err });
      }
    },
  };
}
