import { describe, expect, it } from "vitest";
import { UsageError } from "../jobs/run.js";
import { formatReport, parseRepriceArgs } from "./reprice.js";

describe("tokenmeter reprice arguments and report", () => {
  it("parses dates and instants and refuses bad combinations", () => {
    expect(parseRepriceArgs({ from: "2026-10-01", to: "2026-11-01T12:00:00Z", model: "gpt-4o" })).toEqual({
      from: new Date("2026-10-01T00:00:00Z"),
      to: new Date("2026-11-01T12:00:00Z"),
      model: "gpt-4o",
      dryRun: false,
      json: false,
      enqueue: false,
    });
    expect(() => parseRepriceArgs({ from: "2026-11-01", to: "2026-10-01" })).toThrow(UsageError);
    expect(() => parseRepriceArgs({ from: "yesterday", to: "2026-10-01" })).toThrow(UsageError);
    expect(() => parseRepriceArgs({ from: "2026-10-01", to: "2026-11-01", enqueue: true, dryRun: true })).toThrow(/--enqueue/);
  });

  it("prints one line per model, totals and the months rebuilt", () => {
    const text = formatReport({
      from: "2026-10-01T00:00:00.000Z",
      to: "2026-11-01T00:00:00.000Z",
      rows_scanned: 5,
      rows_changed: 3,
      dry_run: false,
      months: [{ month: "2026-10", status: "rebuilt", raw_requests: 5, rollups: {}, attempts: 1 }],
      models: [
        {
          provider: "acme",
          model: "mystery-1",
          requests: 3,
          changed: 3,
          old_cost_usd: 0,
          new_cost_usd: 0.0123456,
          old_unpriced: 3,
          new_unpriced: 0,
        },
        {
          provider: "acme",
          model: "acme-chat",
          requests: 2,
          changed: 0,
          old_cost_usd: 0.5,
          new_cost_usd: 0.5,
          old_unpriced: 0,
          new_unpriced: 0,
        },
      ],
    });
    expect(text).toBe(
      [
        "reprice 2026-10-01T00:00:00.000Z .. 2026-11-01T00:00:00.000Z",
        "provider  model      requests  changed  old_cost_usd  new_cost_usd  delta_usd  unpriced_before  unpriced_after",
        "acme      mystery-1         3        3      0.000000      0.012346   0.012346                3               0",
        "acme      acme-chat         2        0      0.500000      0.500000   0.000000                0               0",
        "TOTAL                       5        3      0.500000      0.512346   0.012346                3               0",
        "months rebuilt: 2026-10 (rebuilt)",
        "",
      ].join("\n"),
    );
  });
});
