export * from "./batch-policy.js";
export * from "./cost.js";
export * from "./env.js";
export * from "./event.js";
export * from "./outage-log.js";
export * from "./pricer.js";
export * from "./row.js";
export * from "./row-tsv.js";
