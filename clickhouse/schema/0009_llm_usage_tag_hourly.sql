-- Promoted tag keys (issue 16): an operator lists a few tag keys
-- (TOKENMETER_ROLLUP_TAG_KEYS, e.g. team,feature) whose filters and group_by
-- are answered from a rollup instead of raw rows.
--
-- tag_rollup_keys: the keys the view below rolls up, and where their backfill
--   stands: 'pending' (promoted, history being rebuilt), 'ready' (the rollup
--   holds every event of the key: the query planner may read it), 'removed'.
--   Written by the idempotent sync job (packages/clickhouse tag-rollup.ts);
--   ReplacingMergeTree(updated_at): the newest state per key wins, read FINAL.
CREATE TABLE IF NOT EXISTS tag_rollup_keys
(
    key        String,
    state      LowCardinality(String),
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY key;

-- Hourly sums per promoted tag key and value. Every event adds one row per
-- promoted key, with the value '' when it lacks the tag, so one key's rows
-- hold every event once: a filter reads its values, a group_by all of them
-- (the '' group included), and each key's sums equal the raw totals.
--
-- ORDER BY (org_id, tag_key, tag_value, hour, ...): a filter on one value reads
--   one contiguous range per org; dimensions as the model rollup (provider,
--   model, operation, error_code), which is what it can answer besides the tag.
-- PARTITION BY month, TTL 13 months, dedup window: as the other hourly rollups
--   (rebuildable by month; a retried raw insert is dropped here too).
CREATE TABLE IF NOT EXISTS llm_usage_tag_hourly
(
    org_id              LowCardinality(String),
    tag_key             LowCardinality(String),
    tag_value           String,
    hour                DateTime('UTC'),
    provider            LowCardinality(String),
    model               LowCardinality(String),
    operation           LowCardinality(String),
    error_code          LowCardinality(String),
    requests            SimpleAggregateFunction(sum, UInt64),
    errors              SimpleAggregateFunction(sum, UInt64),
    unpriced_requests   SimpleAggregateFunction(sum, UInt64),
    input_tokens        SimpleAggregateFunction(sum, UInt64),
    output_tokens       SimpleAggregateFunction(sum, UInt64),
    cached_input_tokens SimpleAggregateFunction(sum, UInt64),
    cache_write_tokens  SimpleAggregateFunction(sum, UInt64),
    reasoning_tokens    SimpleAggregateFunction(sum, UInt64),
    cost_usd            SimpleAggregateFunction(sum, Decimal(38, 12))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (org_id, tag_key, tag_value, hour, provider, model, operation, error_code)
TTL hour + INTERVAL 13 MONTH
SETTINGS non_replicated_deduplication_window = 1000;

-- The promoted keys are read from tag_rollup_keys for every inserted block, so
-- promoting a key needs no DDL; its history is filled by the sync job.
CREATE MATERIALIZED VIEW IF NOT EXISTS llm_usage_tag_hourly_mv TO llm_usage_tag_hourly AS
SELECT
    org_id,
    tag_key,
    tags[tag_key] AS tag_value,
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
    sum(cost_usd) AS cost_usd
FROM llm_usage
ARRAY JOIN (SELECT groupArray(key) FROM tag_rollup_keys FINAL WHERE state != 'removed') AS tag_key
GROUP BY org_id, tag_key, tag_value, hour, provider, model, operation, error_code;
