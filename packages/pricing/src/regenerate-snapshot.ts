import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseLiteLlmDocument } from "./litellm.js";
import { BUNDLED_SNAPSHOT_PATH } from "./snapshot.js";

/**
 * Builds the bundled price snapshot from a LiteLLM
 * `model_prices_and_context_window.json` (or a mirror in the same format):
 * every entry of a mode Tokenmeter prices, with its price keys only, each
 * entry checked on its own so one malformed entry is reported and left out
 * instead of failing the whole list. Run:
 *
 *   pnpm exec tsx packages/pricing/src/regenerate-snapshot.ts <model_prices_and_context_window.json>
 */
export const SNAPSHOT_MODES = [
  "chat",
  "completion",
  "responses",
  "embedding",
  "image_generation",
  "image_edit",
  "audio_transcription",
  "audio_speech",
  "rerank",
  "search",
] as const;

const KEEP = /cost|^litellm_provider$|^mode$|^tiered_pricing$/;

export interface SnapshotResult {
  document: Record<string, Record<string, unknown>>;
  /** Entries left out, with why (not an object, an invalid price, no price at all). */
  dropped: { model: string; reason: string }[];
}

export function snapshotSubset(text: string): SnapshotResult {
  const raw = JSON.parse(text) as Record<string, unknown>;
  const document: SnapshotResult["document"] = {};
  const dropped: SnapshotResult["dropped"] = [];
  for (const model of Object.keys(raw).sort()) {
    const entry = raw[model];
    if (model === "sample_spec") continue;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      dropped.push({ model, reason: "not an object" });
      continue;
    }
    const mode = (entry as { mode?: unknown }).mode;
    if (!(SNAPSHOT_MODES as readonly unknown[]).includes(mode)) continue;
    const kept = Object.fromEntries(Object.entries(entry).filter(([k]) => KEEP.test(k)));
    try {
      if (parseLiteLlmDocument(JSON.stringify({ [model]: kept }), { minModels: 0 }).entries.length === 1) document[model] = kept;
    } catch (err) {
      dropped.push({ model, reason: (err as Error).message });
      continue;
    }
    if (!document[model]) dropped.push({ model, reason: "no price Tokenmeter reads" });
  }
  return { document, dropped };
}

async function main(argv: string[]): Promise<void> {
  const [input, output = BUNDLED_SNAPSHOT_PATH] = argv;
  if (!input) throw new Error("usage: regenerate-snapshot.ts <model_prices_and_context_window.json> [output]");
  const { document, dropped } = snapshotSubset(readFileSync(input, "utf8"));
  writeFileSync(output, `${JSON.stringify(document, null, 1)}\n`);
  console.log(JSON.stringify({ written: output, entries: Object.keys(document).length, dropped: dropped.length }));
  for (const d of dropped) console.log(`dropped ${d.model}: ${d.reason}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main(process.argv.slice(2));
