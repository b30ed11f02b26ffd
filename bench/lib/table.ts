/** Renders rows as an aligned plain-text table (numbers right-aligned). */
export function formatTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(formatCell))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? "").length)));
  const line = (r: (string | number)[], numeric: boolean[]) =>
    r.map((c, i) => (numeric[i] ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!))).join("  ");
  const numericCols = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number"));
  const out = [
    line(
      headers,
      headers.map(() => false),
    ),
    widths.map((w) => "-".repeat(w)).join("  "),
  ];
  for (const r of cells.slice(1)) out.push(line(r, numericCols));
  return out.join("\n");
}

function formatCell(c: string | number): string | number {
  if (typeof c !== "number") return c;
  if (!Number.isFinite(c)) return "n/a";
  return Number.isInteger(c) ? c.toLocaleString("en-US") : c.toLocaleString("en-US", { maximumFractionDigits: 2 });
}
