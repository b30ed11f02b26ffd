export * from "./auth.js";
export * from "./auth-config.js";
export * from "./errors.js";
export * from "./serve.js";
