import { TEST_DATA_DIR, testDatabaseName } from "../../../test/support/store.js";
import { ChdbStore } from "./chdb-store.js";
import { describeStoreConformance } from "./conformance.js";

describeStoreConformance("ChdbStore (embedded engine)", () => ChdbStore.open({ dataDir: TEST_DATA_DIR, database: testDatabaseName() }));
