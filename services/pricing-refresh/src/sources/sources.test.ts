import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { madeUpDocument } from "@tokenmeter/pricing/testing";
import { afterEach, describe, expect, it } from "vitest";
import { hang, serve, startPriceServer, type TestServer } from "../testing/http.js";
import { fileSource, SourceError, sourceFromSpec, urlSource } from "./index.js";

const doc = JSON.stringify(madeUpDocument());
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("urlSource", () => {
  it("fetches the document", async () => {
    server = await startPriceServer([serve(doc)]);
    expect(await urlSource({ url: server.url }).fetch()).toBe(doc);
  });

  it("retries a 5xx a bounded number of times, then succeeds", async () => {
    server = await startPriceServer([serve("oops", 503), serve("oops", 500), serve(doc)]);
    expect(await urlSource({ url: server.url, retries: 2, retryDelayMs: 10 }).fetch()).toBe(doc);
    expect(server.requests).toBe(3);
  });

  it("gives up after its retries, with a retryable error", async () => {
    server = await startPriceServer([serve("oops", 502)]);
    const err = await urlSource({ url: server.url, retries: 1, retryDelayMs: 10 })
      .fetch()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as SourceError).retryable).toBe(true);
    expect(server.requests).toBe(2);
  });

  it("does not retry a 404", async () => {
    server = await startPriceServer([serve("no", 404)]);
    const err = await urlSource({ url: server.url, retries: 3, retryDelayMs: 10 })
      .fetch()
      .catch((e: unknown) => e);
    expect((err as SourceError).retryable).toBe(false);
    expect(server.requests).toBe(1);
  });

  it("times out a server that does not answer", async () => {
    server = await startPriceServer([hang(5_000)]);
    const err = await urlSource({ url: server.url, timeoutMs: 200, retries: 0 })
      .fetch()
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/timed out after 200 ms/);
  });
});

describe("fileSource and sourceFromSpec", () => {
  it("reads a file, by path or file: spec, and knows the bundled snapshot", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "prices-")), "p.json");
    writeFileSync(file, doc);
    expect(await fileSource(file).fetch()).toBe(doc);
    expect(await sourceFromSpec(`file:${file}`).fetch()).toBe(doc);
    expect(sourceFromSpec("bundled").name).toBe("bundled:litellm-snapshot.json");
    expect(sourceFromSpec("https://example.invalid/p.json").name).toBe("https://example.invalid/p.json");
    await expect(fileSource(`${file}.missing`).fetch()).rejects.toBeInstanceOf(SourceError);
  });
});
