import { type PriceSource, SourceError } from "./source.js";

export interface UrlSourceOptions {
  url: string;
  /** Per attempt. Default 15 000 ms. */
  timeoutMs?: number;
  /** Extra attempts after the first, for timeouts, network errors and 5xx/429. Default 2. */
  retries?: number;
  /** Delay before retry n is n × this. Default 1 000 ms. */
  retryDelayMs?: number;
  /** Bigger bodies are refused (the real document is ~1.6 MB). Default 32 MiB. */
  maxBytes?: number;
}

/** An HTTP(S) document, fetched with a timeout and a few bounded retries. */
export function urlSource(opts: UrlSourceOptions): PriceSource {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const retries = opts.retries ?? 2;
  const retryDelayMs = opts.retryDelayMs ?? 1_000;
  const maxBytes = opts.maxBytes ?? 32 * 1024 * 1024;
  return {
    name: opts.url,
    async fetch() {
      let last: SourceError | undefined;
      for (let attempt = 0; attempt <= retries; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, attempt * retryDelayMs));
        try {
          return await fetchOnce(opts.url, timeoutMs, maxBytes);
        } catch (err) {
          last = err instanceof SourceError ? err : new SourceError(String(err), true, { cause: err });
          if (!last.retryable) throw last;
        }
      }
      throw last ?? new SourceError("no attempt made", true);
    },
  };
}

async function fetchOnce(url: string, timeoutMs: number, maxBytes: number): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
  } catch (err) {
    const timedOut = (err as Error).name === "TimeoutError";
    throw new SourceError(timedOut ? `GET ${url} timed out after ${timeoutMs} ms` : `GET ${url} failed: ${(err as Error).message}`, true, {
      cause: err,
    });
  }
  if (!res.ok) {
    await res.body?.cancel();
    // 4xx other than 408/429 is a wrong URL or a refusal: retrying now will not fix it.
    const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
    throw new SourceError(`GET ${url} answered ${res.status}`, retryable);
  }
  const length = Number(res.headers.get("content-length") ?? 0);
  if (length > maxBytes) {
    await res.body?.cancel();
    throw new SourceError(`GET ${url}: ${length} bytes is over the ${maxBytes} limit`, false);
  }
  try {
    const text = await res.text();
    if (text.length > maxBytes) throw new SourceError(`GET ${url}: body over the ${maxBytes} limit`, false);
    return text;
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError(`GET ${url}: body not read: ${(err as Error).message}`, true, { cause: err });
  }
}
