-- Model rollup: the hourly sums keyed by provider and model only, for the
-- questions that name no project or agent (usage and errors overall or by
-- provider/model, the models breakdown). The hourly rollup keeps project_id and
-- agent_id, which on a typical org multiplies its rows ~5-8x per hour for the
-- same sums (measured, docs/adr/0001 revision 2026-11); this table answers the
-- dashboard's common cards from far fewer rows. The query planner reads it only
-- when no project_id / agent_id / user_id filter or grouping is asked for.
--
-- Engine and column types as 0003 (AggregatingMergeTree with
-- SimpleAggregateFunction(sum)), so it is the hourly rollup minus two key
-- columns and the latency sketches (latency is read from raw, ADR 0001).
-- ORDER BY: org and hour first (org-scoped, time-ranged), then provider, model,
--   error_code (the errors endpoint groups by code).
-- PARTITION BY month: same as raw and the other rollups, rebuildable per month
--   (`tokenmeter rebuild-rollups` finds this view like the others).
-- TTL 13 months: it stands in for the hourly rollup, which keeps as long.
-- non_replicated_deduplication_window: see 0002; without it a retried raw
--   insert would be deduplicated in llm_usage but counted twice here.
CREATE TABLE IF NOT EXISTS llm_usage_model_hourly
(
    org_id              LowCardinality(String),
    hour                DateTime('UTC'),
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
    cost_usd            SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (org_id, hour, provider, model, error_code)
TTL hour + INTERVAL 13 MONTH
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_usage_model_hourly_mv TO llm_usage_model_hourly AS
SELECT
    org_id,
    toStartOfHour(event_time) AS hour,
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
GROUP BY org_id, hour, provider, model, error_code;

-- Backfill from the hourly rollup (same sums, same 13-month history; ~1/3 of
-- raw's rows or fewer), so a store migrated with data answers at once.
-- Runs after the view exists, so no event is missed; an insert that lands in
-- the milliseconds between the view's creation and this copy is counted twice
-- here. Migrations run before the process starts ingesting; where another
-- process ingested meanwhile, `tokenmeter rebuild-rollups` for the current
-- month rebuilds it from raw and checks it (docs/operations.md).
-- The fixed token makes a concurrent or re-run copy (two processes migrating
-- at once, or a crash before the ledger row) a duplicate that is dropped.
INSERT INTO llm_usage_model_hourly
SETTINGS insert_deduplication_token = '0005_llm_usage_model_hourly_backfill'
SELECT
    org_id,
    hour,
    provider,
    model,
    error_code,
    sum(requests) AS requests,
    sum(errors) AS errors,
    sum(unpriced_requests) AS unpriced_requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cached_input_tokens) AS cached_input_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd
FROM llm_usage_hourly
GROUP BY org_id, hour, provider, model, error_code;
