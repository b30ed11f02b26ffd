import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClickHouseHttpServer, startClickHouseHttpServer } from "../../../test/support/clickhouse-http-server.js";
import { TEST_DATA_DIR, testDatabaseName } from "../../../test/support/store.js";
import { ChdbStore } from "./chdb-store.js";
import { describeStoreConformance } from "./conformance.js";
import { createStore } from "./factory.js";
import { HttpStore } from "./http-store.js";
import { StoreError } from "./store.js";

let server: ClickHouseHttpServer;

beforeAll(async () => {
  server = await startClickHouseHttpServer({ dataDir: TEST_DATA_DIR, username: "tm", password: "s3cret" });
});

afterAll(async () => {
  await server.close();
});

const openHttp = (database = testDatabaseName()) => HttpStore.open({ url: server.url, username: "tm", password: "s3cret", database });

describeStoreConformance("HttpStore (HTTP interface on chDB)", () => openHttp());

describe("HttpStore over HTTP", () => {
  it("creates its database and really talks HTTP", async () => {
    const before = server.requests;
    const store = await openHttp();
    try {
      const [row] = await store.query<{ db: string }>("SELECT currentDatabase() AS db");
      expect(row?.db).toBe(store.database);
      expect(server.requests).toBeGreaterThan(before);
    } finally {
      await store.command(`DROP DATABASE ${store.database}`);
      await store.close();
    }
  });

  it("binds a large Array(UUID) parameter (multipart body, not the URL)", async () => {
    const store = await openHttp();
    try {
      const ids = Array.from({ length: 2000 }, () => randomUUID());
      const [row] = await store.query<{ n: number; first: string }>(
        "SELECT length({ids:Array(UUID)}) AS n, toString({ids:Array(UUID)}[1]) AS first",
        {
          ids,
        },
      );
      expect(row).toEqual({ n: 2000, first: ids[0] });
    } finally {
      await store.command(`DROP DATABASE ${store.database}`);
      await store.close();
    }
  });

  it("fails a wrong password as not retryable", async () => {
    const err = await HttpStore.open({ url: server.url, username: "tm", password: "wrong", database: testDatabaseName() }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: "bad_request", retryable: false, clickhouseCode: 516 });
  });

  it("fails an unreachable server as unavailable and retryable", async () => {
    const port = await freePort();
    const err = await HttpStore.open({ url: `http://127.0.0.1:${port}`, database: testDatabaseName(), timeoutMs: 2000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "unavailable", retryable: true });
  });

  it("treats a proxy's 5xx page as retryable and a silent server as a timeout", async () => {
    // Fakes of what stands between us and ClickHouse: a gateway answering 502, a server that never answers.
    const gateway = await listen((_req, res) => res.writeHead(502, { "Content-Type": "text/html" }).end("<html>Bad Gateway</html>"));
    const silent = await listen(() => {});
    try {
      const e502 = await HttpStore.open({ url: gateway.url, database: testDatabaseName(), timeoutMs: 2000 }).catch((e: unknown) => e);
      expect(e502).toMatchObject({ code: "unavailable", retryable: true });
      const hung = await HttpStore.open({ url: silent.url, database: testDatabaseName(), timeoutMs: 200 }).catch((e: unknown) => e);
      expect(hung).toMatchObject({ code: "timeout", retryable: true });
    } finally {
      await gateway.close();
      await silent.close();
    }
  });

  it("refuses calls after close", async () => {
    const store = await openHttp();
    await store.command(`DROP DATABASE ${store.database}`);
    await store.close();
    await expect(store.query("SELECT 1")).rejects.toMatchObject({ code: "unavailable", retryable: false });
  });
});

describe("createStore", () => {
  it("picks HttpStore for a URL and ChdbStore without one", async () => {
    const http = await createStore({
      clickhouseUrl: server.url,
      username: "tm",
      password: "s3cret",
      dataDir: TEST_DATA_DIR,
      database: testDatabaseName(),
    });
    const embedded = await createStore({ dataDir: TEST_DATA_DIR, database: testDatabaseName() });
    try {
      expect(http).toBeInstanceOf(HttpStore);
      expect(embedded).toBeInstanceOf(ChdbStore);
    } finally {
      for (const s of [http, embedded]) {
        await s.command(`DROP DATABASE ${s.database}`);
        await s.close();
      }
    }
  });
});

async function freePort(): Promise<number> {
  const s = await listen(() => {});
  const port = Number(new URL(s.url).port);
  await s.close();
  return port;
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; close: () => Promise<void> }> {
  const srv: Server = createServer(handler);
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
}
