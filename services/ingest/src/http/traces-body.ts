/** DESIGN "OpenTelemetry ingest": 413 when the body exceeds 64 MiB after decompression. */
export const OTLP_MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Why a body could not be read: too large (413), a broken encoding (400), or no memory budget left now (429). */
export class BodyError extends Error {
  override readonly name = "BodyError";
  constructor(
    readonly status: 400 | 413 | 429,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads an OTLP request body, gunzipping `Content-Encoding: gzip` as a
 * stream and stopping as soon as the decompressed size passes `limit`: a
 * gzip bomb costs at most `limit` bytes of memory, never its full expansion.
 * With a `budget`, the bytes read are taken from it; the caller gives back
 * `body.length` once done with the body.
 */
export async function readOtlpBody(req: Request, limit = OTLP_MAX_BODY_BYTES, budget?: ByteBudget): Promise<Uint8Array> {
  const encoding = (req.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding !== "gzip" && encoding !== "identity" && encoding !== "") {
    throw new BodyError(400, `Content-Encoding ${encoding} is not supported (gzip or none)`);
  }
  const declared = Number(req.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) throw new BodyError(413, `request body over ${limit} bytes (Content-Length ${declared})`);
  if (!req.body) return new Uint8Array(0);
  const stream = encoding === "gzip" ? req.body.pipeThrough(new DecompressionStream("gzip")) : req.body;
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let taken = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (budget) {
        if (!budget.take(value.byteLength)) {
          await reader.cancel().catch(() => {});
          throw new BodyError(429, "too much export data in progress, retry later");
        }
        taken += value.byteLength;
      }
      if (total > limit) {
        await reader.cancel().catch(() => {});
        throw new BodyError(413, `request body over ${limit} bytes${encoding === "gzip" ? " after decompression" : ""}`);
      }
      chunks.push(value);
    }
  } catch (err) {
    // The caller gives back what a returned body holds; a failed read gives back here.
    budget?.give(taken);
    if (err instanceof BodyError) throw err;
    throw new BodyError(400, `request body could not be read${encoding === "gzip" ? " as gzip" : ""}: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks, total);
}

/**
 * Decompressed bytes held by requests in progress, shared by all of them: a
 * request that would pass `max` is refused (429) while reading, so many
 * large exports at once cannot exhaust memory; small ones never notice.
 */
export class ByteBudget {
  private used = 0;
  constructor(readonly max: number) {}
  take(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
  get inUse(): number {
    return this.used;
  }
}
