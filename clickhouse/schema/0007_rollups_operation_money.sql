-- The rollups gain `operation` (a dimension of Query dimensions v1.1, so an
-- operation filter or breakdown reads a rollup, not raw rows), exact money
-- (cost_usd as Decimal(38, 12), see 0006) and the cost breakdown sums.
--
-- Each rollup: its view is dropped (nothing feeds it while it changes), the
-- table gains the column at the END of its sorting key (ClickHouse only allows
-- appending a column added by the same ALTER; coarse-to-fine order is kept
-- for every existing dimension) and the money columns change type, then the
-- view is created again with operation in its GROUP BY.
--
-- Rows written before this migration carry operation = ''. The directive
-- below makes migrate() rebuild every month still held by raw rows from raw
-- (packages/clickhouse rebuildRollups: REPLACE PARTITION, checked against raw
-- counts), so those months get their real operation and exact sums; daily
-- rows older than raw's retention keep operation = '' (raw no longer says).
-- Migrations run before the process ingests, as for 0005.
-- @rebuild-rollups

-- Daily: operation after the existing key columns.
DROP VIEW IF EXISTS llm_usage_daily_mv;

ALTER TABLE llm_usage_daily
    ADD COLUMN IF NOT EXISTS operation LowCardinality(String) AFTER model,
    MODIFY ORDER BY (org_id, day, project_id, agent_id, user_id, provider, model, error_code, operation),
    MODIFY COLUMN cost_usd Decimal(38, 12),
    ADD COLUMN IF NOT EXISTS cost_input_usd Decimal(38, 12) AFTER cost_usd,
    ADD COLUMN IF NOT EXISTS cost_cached_input_usd Decimal(38, 12) AFTER cost_input_usd,
    ADD COLUMN IF NOT EXISTS cost_cache_write_usd Decimal(38, 12) AFTER cost_cached_input_usd,
    ADD COLUMN IF NOT EXISTS cost_output_usd Decimal(38, 12) AFTER cost_cache_write_usd,
    ADD COLUMN IF NOT EXISTS cost_reasoning_usd Decimal(38, 12) AFTER cost_output_usd,
    ADD COLUMN IF NOT EXISTS cost_units_usd Decimal(38, 12) AFTER cost_reasoning_usd;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_usage_daily_mv TO llm_usage_daily AS
SELECT
    org_id,
    toDate(event_time) AS day,
    project_id,
    agent_id,
    user_id,
    provider,
    model,
    operation,
    error_code,
    count() AS requests,
    countIf(status_code >= 400 OR error_code != '') AS errors,
    countIf(cost_source = 'unpriced') AS unpriced_requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cached_input_tokens) AS cached_input_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd,
    sum(cost_input_usd) AS cost_input_usd,
    sum(cost_cached_input_usd) AS cost_cached_input_usd,
    sum(cost_cache_write_usd) AS cost_cache_write_usd,
    sum(cost_output_usd) AS cost_output_usd,
    sum(cost_reasoning_usd) AS cost_reasoning_usd,
    sum(cost_units_usd) AS cost_units_usd
FROM llm_usage
GROUP BY org_id, day, project_id, agent_id, user_id, provider, model, operation, error_code;

-- Hourly: same change, the latency sketches unchanged.
DROP VIEW IF EXISTS llm_usage_hourly_mv;

ALTER TABLE llm_usage_hourly
    ADD COLUMN IF NOT EXISTS operation LowCardinality(String) AFTER model,
    MODIFY ORDER BY (org_id, hour, project_id, agent_id, provider, model, error_code, operation),
    MODIFY COLUMN cost_usd SimpleAggregateFunction(sum, Decimal(38, 12)),
    ADD COLUMN IF NOT EXISTS cost_input_usd SimpleAggregateFunction(sum, Decimal(38, 12)) AFTER cost_usd,
    ADD COLUMN IF NOT EXISTS cost_cached_input_usd SimpleAggregateFunction(sum, Decimal(38, 12)) AFTER cost_input_usd,
    ADD COLUMN IF NOT EXISTS cost_cache_write_usd SimpleAggregateFunction(sum, Decimal(38, 12)) AFTER cost_cached_input_usd,
    ADD COLUMN IF NOT EXISTS cost_output_usd SimpleAggregateFunction(sum, Decimal(38, 12)) AFTER cost_cache_write_usd,
    ADD COLUMN IF NOT EXISTS cost_reasoning_usd SimpleAggregateFunction(sum, Decimal(38, 12)) AFTER cost_output_usd,
    ADD COLUMN IF NOT EXISTS cost_units_usd SimpleAggregateFunction(sum, Decimal(38, 12)) AFTER cost_reasoning_usd;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_usage_hourly_mv TO llm_usage_hourly AS
SELECT
    org_id,
    toStartOfHour(event_time) AS hour,
    project_id,
    agent_id,
    provider,
    model,
    operation,
    error_code,
    count() AS requests,
    countIf(status_code >= 400 OR error_code != '') AS errors,
    countIf(cost_source = 'unpriced') AS unpriced_requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cached_input_tokens) AS cached_input_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd,
    sum(cost_input_usd) AS cost_input_usd,
    sum(cost_cached_input_usd) AS cost_cached_input_usd,
    sum(cost_cache_write_usd) AS cost_cache_write_usd,
    sum(cost_output_usd) AS cost_output_usd,
    sum(cost_reasoning_usd) AS cost_reasoning_usd,
    sum(cost_units_usd) AS cost_units_usd,
    quantilesTDigestState(0.5, 0.95, 0.99)(duration_ms) AS duration_ms_q,
    quantilesTDigestState(0.5, 0.95, 0.99)(ttfb_ms) AS ttfb_ms_q,
    quantilesTDigestState(0.5, 0.95, 0.99)(proxy_overhead_ms) AS proxy_overhead_ms_q
FROM llm_usage
GROUP BY org_id, hour, project_id, agent_id, provider, model, operation, error_code;

-- Model rollup: operation is one of the few dimensions it keeps, so an
-- operation breakdown with no project / agent question reads this small table.
DROP VIEW IF EXISTS llm_usage_model_hourly_mv;

ALTER TABLE llm_usage_model_hourly
    ADD COLUMN IF NOT EXISTS operation LowCardinality(String) AFTER model,
    MODIFY ORDER BY (org_id, hour, provider, model, error_code, operation),
    MODIFY COLUMN cost_usd SimpleAggregateFunction(sum, Decimal(38, 12)),
    ADD COLUMN IF NOT EXISTS cost_input_usd SimpleAggregateFunction(sum, Decimal(38, 12)) AFTER cost_usd,
    ADD COLUMN IF NOT EXISTS cost_cached_input_usd SimpleAggregateFunction(sum, Decimal(38, 12)) AFTER cost_input_usd,
    ADD COLUMN IF NOT EXISTS cost_cache_write_usd SimpleAggregateFunction(sum, Decimal(38, 12)) AFTER cost_cached_input_usd,
    ADD COLUMN IF NOT EXISTS cost_output_usd SimpleAggregateFunction(sum, Decimal(38, 12)) AFTER cost_cache_write_usd,
    ADD COLUMN IF NOT EXISTS cost_reasoning_usd SimpleAggregateFunction(sum, Decimal(38, 12)) AFTER cost_output_usd,
    ADD COLUMN IF NOT EXISTS cost_units_usd SimpleAggregateFunction(sum, Decimal(38, 12)) AFTER cost_reasoning_usd;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_usage_model_hourly_mv TO llm_usage_model_hourly AS
SELECT
    org_id,
    toStartOfHour(event_time) AS hour,
    provider,
    model,
    operation,
    error_code,
    count() AS requests,
    countIf(status_code >= 400 OR error_code != '') AS errors,
    countIf(cost_source = 'unpriced') AS unpriced_requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cached_input_tokens) AS cached_input_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd,
    sum(cost_input_usd) AS cost_input_usd,
    sum(cost_cached_input_usd) AS cost_cached_input_usd,
    sum(cost_cache_write_usd) AS cost_cache_write_usd,
    sum(cost_output_usd) AS cost_output_usd,
    sum(cost_reasoning_usd) AS cost_reasoning_usd,
    sum(cost_units_usd) AS cost_units_usd
FROM llm_usage
GROUP BY org_id, hour, provider, model, operation, error_code;
