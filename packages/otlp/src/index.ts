export * from "./aliases.js";
export * from "./classify.js";
export * from "./event-id.js";
export * from "./json.js";
export * from "./map.js";
export * from "./protobuf.js";
export * from "./span.js";
