export * from "./fragments.js";
export * from "./known.js";
export * from "./services.js";
