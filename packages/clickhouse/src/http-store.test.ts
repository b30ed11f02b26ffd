import { afterAll, beforeAll } from "vitest";
import { type ClickHouseHttpServer, startClickHouseHttpServer } from "../../../test/support/clickhouse-http-server.js";
import { TEST_DATA_DIR, testDatabaseName } from "../../../test/support/store.js";
import { describeStoreConformance } from "./conformance.js";
import { HttpStore } from "./http-store.js";

let server: ClickHouseHttpServer;

beforeAll(async () => {
  server = await startClickHouseHttpServer({ dataDir: TEST_DATA_DIR });
});

afterAll(async () => {
  await server.close();
});

describeStoreConformance("HttpStore (HTTP interface on chDB)", () => HttpStore.open({ url: server.url, database: testDatabaseName() }));
