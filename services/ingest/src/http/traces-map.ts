import { type UsageEvent, validateEvent } from "@tokenmeter/core";
import { type DecodedExport, mapSpan } from "@tokenmeter/otlp";
import type { TraceMetrics } from "./traces-metrics.js";

/** Reasons kept in errorMessage: the first few, so one bad export cannot make a huge answer. */
const MAX_REASONS = 5;

/** The events of one dialect, and the span each came from (to name it if the store refuses the row). */
export interface DialectBatch {
  events: UsageEvent[];
  spanIds: string[];
}

/**
 * Maps and validates every span of an export on its own: model calls become
 * events grouped by dialect, other spans are skipped, bad ones rejected with
 * their reason. Counts every span in the metrics as it goes.
 */
export function mapExport(decoded: DecodedExport, org_id: string, at: number, metrics: TraceMetrics) {
  const byDialect = new Map<string, DialectBatch>();
  const reasons: string[] = [];
  let rejected = 0;
  const reject = (dialect: string, kind: string, reason: string) => {
    rejected++;
    metrics.rejected.inc({ dialect, reason: kind });
    if (reasons.length < MAX_REASONS) reasons.push(reason);
  };
  for (const e of decoded.errors) {
    metrics.received.inc({ dialect: "none" });
    reject("none", "undecodable", `${e.path}: ${e.reason}`);
  }
  for (const span of decoded.spans) {
    const out = mapSpan(span);
    metrics.received.inc({ dialect: out.dialect });
    const where = `span ${span.spanId} (${out.dialect})`;
    if (out.kind === "skip") metrics.skipped.inc({ dialect: out.dialect, reason: out.reason });
    else if (out.kind === "reject") reject(out.dialect, "unmappable", `${where}: ${out.reason}`);
    else {
      const v = validateEvent(out.input, { now: at, org_id });
      if (!v.ok) {
        const otherOrg = v.errors.some((e) => e.path === "org_id");
        reject(out.dialect, otherOrg ? "other_org" : "invalid", `${where}: ${v.errors.map((e) => `${e.path} ${e.message}`).join(", ")}`);
        continue;
      }
      const batch = byDialect.get(out.dialect) ?? { events: [], spanIds: [] };
      batch.events.push(v.event);
      batch.spanIds.push(span.spanId);
      byDialect.set(out.dialect, batch);
    }
  }
  return {
    byDialect,
    /** Rejects one more span (e.g. a row the store refused after mapping). */
    reject,
    rejected: () => rejected,
    /** The first reasons, and how many more there were. */
    reasons: () => (rejected > reasons.length ? [...reasons, `and ${rejected - reasons.length} more`] : reasons).join("; "),
  };
}
