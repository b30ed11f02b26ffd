import { BUNDLED_SNAPSHOT_PATH, BUNDLED_SOURCE } from "@tokenmeter/pricing";
import { fileSource } from "./file.js";
import type { PriceSource } from "./source.js";
import { type UrlSourceOptions, urlSource } from "./url.js";

/** LiteLLM's published price list: the default source (declared with the setting it is the default of). */
export { LITELLM_PRICES_URL } from "@tokenmeter/config";
export * from "./file.js";
export * from "./source.js";
export * from "./url.js";

/** The snapshot shipped in @tokenmeter/pricing. */
export function bundledSource(): PriceSource {
  return fileSource(BUNDLED_SNAPSHOT_PATH, BUNDLED_SOURCE);
}

/**
 * `TOKENMETER_PRICING_SOURCE` → a source: an http(s) URL, "bundled", or a file
 * path (optionally `file:` prefixed).
 */
export function sourceFromSpec(spec: string, http: Omit<UrlSourceOptions, "url"> = {}): PriceSource {
  if (/^https?:\/\//i.test(spec)) return urlSource({ ...http, url: spec });
  if (spec === "bundled") return bundledSource();
  return fileSource(spec.replace(/^file:(\/\/)?/, ""));
}
