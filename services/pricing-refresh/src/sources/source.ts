/** Where a price document comes from: a URL, a file, the bundled snapshot. */
export interface PriceSource {
  /** Recorded on every price row it produced (model_pricing.source). */
  readonly name: string;
  /** The document text; throws SourceError when it cannot be had. */
  fetch(): Promise<string>;
}

/** The source could not deliver a document; `retryable` says whether trying later can help. */
export class SourceError extends Error {
  override readonly name = "SourceError";
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
