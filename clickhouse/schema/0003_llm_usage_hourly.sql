-- Hourly rollup: sums plus mergeable latency sketches (t-digest states) per org,
-- hour (UTC) and dimension, so p50/p95/p99 over months merge ~2k states per
-- series instead of scanning raw rows. user_id is left out on purpose: it is
-- the high-cardinality dimension, and per-user questions are answered by the
-- daily rollup (sums) or raw rows (latency for one user).
--
-- ORDER BY: org and hour first (org-scoped, time-ranged), then dimensions.
-- PARTITION BY month: same as raw and daily, rebuildable from raw per month.
-- TTL 13 months: latency percentiles need no longer history than raw rows.
-- non_replicated_deduplication_window: see 0002.
CREATE TABLE IF NOT EXISTS llm_usage_hourly
(
    org_id              LowCardinality(String),
    hour                DateTime('UTC'),
    project_id          LowCardinality(String),
    agent_id            LowCardinality(String),
    provider            LowCardinality(String),
    model               LowCardinality(String),
    error_code          LowCardinality(String),
    requests            SimpleAggregateFunction(sum, UInt64),
    errors              SimpleAggregateFunction(sum, UInt64),
    unpriced_requests   SimpleAggregateFunction(sum, UInt64),
    input_tokens        SimpleAggregateFunction(sum, UInt64),
    output_tokens       SimpleAggregateFunction(sum, UInt64),
    cached_input_tokens SimpleAggregateFunction(sum, UInt64),
    cache_write_tokens  SimpleAggregateFunction(sum, UInt64),
    reasoning_tokens    SimpleAggregateFunction(sum, UInt64),
    cost_usd            SimpleAggregateFunction(sum, Float64),
    duration_ms_q       AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Nullable(UInt32)),
    ttfb_ms_q           AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Nullable(UInt32)),
    proxy_overhead_ms_q AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Nullable(UInt32))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (org_id, hour, project_id, agent_id, provider, model, error_code)
TTL hour + INTERVAL 13 MONTH
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_usage_hourly_mv TO llm_usage_hourly AS
SELECT
    org_id,
    toStartOfHour(event_time) AS hour,
    project_id,
    agent_id,
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
    sum(cost_usd) AS cost_usd,
    quantilesTDigestState(0.5, 0.95, 0.99)(duration_ms) AS duration_ms_q,
    quantilesTDigestState(0.5, 0.95, 0.99)(ttfb_ms) AS ttfb_ms_q,
    quantilesTDigestState(0.5, 0.95, 0.99)(proxy_overhead_ms) AS proxy_overhead_ms_q
FROM llm_usage
GROUP BY org_id, hour, project_id, agent_id, provider, model, error_code;
