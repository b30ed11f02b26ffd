export * from "./diff.js";
export * from "./follow.js";
export * from "./litellm.js";
export * from "./normalize.js";
export * from "./price-book.js";
export * from "./pricing-table.js";
export * from "./snapshot.js";
export * from "./updates.js";
