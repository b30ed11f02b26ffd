import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * A subset of LiteLLM's price list shipped with Tokenmeter (see snapshot/README.md),
 * so the embedded default prices events offline, before any refresh succeeds.
 */
export const BUNDLED_SNAPSHOT_PATH = fileURLToPath(new URL("../snapshot/litellm-snapshot.json", import.meta.url));

/** Source name recorded on rows seeded from the snapshot. */
export const BUNDLED_SOURCE = "bundled:litellm-snapshot.json";

export function readBundledSnapshot(): string {
  return readFileSync(BUNDLED_SNAPSHOT_PATH, "utf8");
}
