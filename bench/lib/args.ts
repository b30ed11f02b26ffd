import { parseArgs } from "node:util";

export interface BenchArgs {
  quick: boolean;
  /** --name=value options not known to the common parser, as strings. */
  options: Record<string, string>;
}

/**
 * Every bench script takes `--quick` (reduced scale, the whole suite in under
 * 5 minutes) plus its own `--key=value` options.
 */
export function benchArgs(argv: string[] = process.argv.slice(2)): BenchArgs {
  const { values } = parseArgs({ args: argv, options: { quick: { type: "boolean", default: false } }, strict: false });
  const options: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (k !== "quick" && typeof v === "string") options[k] = v;
  return { quick: values.quick === true, options };
}

/** A numeric option with a full-scale and a quick default. */
export function numberOption(args: BenchArgs, name: string, full: number, quick: number): number {
  const v = args.options[name];
  if (v === undefined) return args.quick ? quick : full;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new RangeError(`--${name} must be a number, got ${v}`);
  return n;
}
