-- Daily rollup: sums per org, day (UTC) and every dimension the API filters or
-- groups by. Read with sum() always: SummingMergeTree collapses rows only when
-- parts merge, so unmerged parts still hold several rows per key.
--
-- ORDER BY: org and day first (every query is org-scoped and day-ranged), then
--   the dimensions, coarse to fine, which are also the summing key.
-- PARTITION BY month: matches the raw table, so a month can be rebuilt from raw
--   (re-pricing) by replacing one partition.
-- TTL 25 months: two years of trends after raw rows are gone.
-- non_replicated_deduplication_window: with
--   deduplicate_blocks_in_dependent_materialized_views=1 a retried raw insert is
--   dropped here too, not only in llm_usage.
CREATE TABLE IF NOT EXISTS llm_usage_daily
(
    org_id              LowCardinality(String),
    day                 Date,
    project_id          LowCardinality(String),
    agent_id            LowCardinality(String),
    user_id             String,
    provider            LowCardinality(String),
    model               LowCardinality(String),
    error_code          LowCardinality(String),
    requests            UInt64,
    errors              UInt64,
    unpriced_requests   UInt64,
    input_tokens        UInt64,
    output_tokens       UInt64,
    cached_input_tokens UInt64,
    cache_write_tokens  UInt64,
    reasoning_tokens    UInt64,
    cost_usd            Float64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day, project_id, agent_id, user_id, provider, model, error_code)
TTL day + INTERVAL 25 MONTH
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_usage_daily_mv TO llm_usage_daily AS
SELECT
    org_id,
    toDate(event_time) AS day,
    project_id,
    agent_id,
    user_id,
    provider,
    model,
    error_code,
    count() AS requests,
    countIf(status_code >= 400 OR error_code != '') AS errors,
    countIf(cost_source = 'unpriced') AS unpriced_requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cached_input_tokens) AS cached_input_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd
FROM llm_usage
GROUP BY org_id, day, project_id, agent_id, user_id, provider, model, error_code;
