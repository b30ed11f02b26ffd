export * from "./chdb-store.js";
export * from "./cluster.js";
export * from "./migrate.js";
export * from "./rollups.js";
export * from "./store.js";
