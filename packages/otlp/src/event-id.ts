import { createHash } from "node:crypto";

/**
 * The usage event id of a span: a UUIDv8 (RFC 9562, custom) whose 122 free
 * bits are the start of SHA-256 over the trace and span ids. The same span
 * re-sent, or sent by two exporters, gets the same id and so counts once.
 */
export function spanEventId(traceIdHex: string, spanIdHex: string): string {
  const h = createHash("sha256").update(`otlp-span:${traceIdHex.toLowerCase()}:${spanIdHex.toLowerCase()}`).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x80; // version 8
  h[8] = ((h[8] as number) & 0x3f) | 0x80; // variant 10
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
