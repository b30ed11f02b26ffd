export * from "./chdb-store.js";
export * from "./cluster.js";
export * from "./errors.js";
export * from "./factory.js";
export * from "./http-store.js";
export * from "./migrate.js";
export * from "./rollups.js";
export * from "./store.js";
