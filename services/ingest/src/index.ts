export * from "./batcher.js";
export * from "./config.js";
export * from "./dedup.js";
export * from "./http.js";
export * from "./sink.js";
