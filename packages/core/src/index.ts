export * from "./event.js";
export * from "./row.js";
