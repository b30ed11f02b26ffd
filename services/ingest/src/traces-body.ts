/** DESIGN "OpenTelemetry ingest": 413 when the body exceeds 64 MiB after decompression. */
export const OTLP_MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Why a body could not be read: too large (413) or a broken encoding (400). */
export class BodyError extends Error {
  override readonly name = "BodyError";
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads an OTLP request body, gunzipping `Content-Encoding: gzip` as a
 * stream and stopping as soon as the decompressed size passes `limit`: a
 * gzip bomb costs at most `limit` bytes of memory, never its full expansion.
 */
export async function readOtlpBody(req: Request, limit = OTLP_MAX_BODY_BYTES): Promise<Uint8Array> {
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
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel().catch(() => {});
        throw new BodyError(413, `request body over ${limit} bytes${encoding === "gzip" ? " after decompression" : ""}`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof BodyError) throw err;
    throw new BodyError(400, `request body could not be read${encoding === "gzip" ? " as gzip" : ""}: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks, total);
}
