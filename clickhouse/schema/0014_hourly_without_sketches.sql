-- The hourly rollup without its latency sketches (issue 20: "the hourly
-- rollup's unused t-digest columns — drop or justify them").
--
-- No endpoint reads them: /v1/analytics/latency and the summary's p95 scan raw
-- rows (exact quantiles, deterministic, and faster than merging ~3 states per
-- hourly row, docs/benchmarks.md §3); the p95 alert rules, their only reader,
-- look back at most 1,440 minutes and now read raw too. Building three
-- t-digest states per inserted row was measured at ~1.5–2 µs of engine CPU
-- per event (≈ 7 % of an insert into raw and its four views,
-- docs/benchmarks.md §12a), paid on every insert for nothing.
--
-- The view is dropped first so nothing feeds the table while it changes, then
-- created again with the same SELECT as 0007 minus the sketches. No rebuild is
-- needed: the remaining columns keep their values. As for 0007, migrations run
-- before the process ingests.
DROP VIEW IF EXISTS llm_usage_hourly_mv;

ALTER TABLE llm_usage_hourly
    DROP COLUMN IF EXISTS duration_ms_q,
    DROP COLUMN IF EXISTS ttfb_ms_q,
    DROP COLUMN IF EXISTS proxy_overhead_ms_q;

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
    sum(cost_units_usd) AS cost_units_usd
FROM llm_usage
GROUP BY org_id, hour, project_id, agent_id, provider, model, operation, error_code;
