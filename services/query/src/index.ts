export { createQueryApp, ENDPOINTS, type QueryAppOptions, ttlSeconds } from "./app.js";
export { bucketStart, bucketStarts, GRANULARITIES, type Granularity } from "./buckets.js";
export { MemoryResultCache, RedisResultCache, type ResultCache } from "./cache.js";
export { cacheKey } from "./cache-aside.js";
export { RollupTagKeys } from "./config.js";
export { createDashboardRoutes } from "./dashboard/index.js";
export { buildOpenApi } from "./openapi.js";
export { type AnalyticsQuery, PARAMS, QUERY_LIMITS } from "./params.js";
export { createPricingRoutes } from "./routes/pricing.js";
