-- Raw usage events: one row per LLM call, the source of truth every rollup is fed from.
--
-- ORDER BY (org_id, event_time, event_id): every query is org-scoped and
--   time-ranged, so the primary index narrows to one org's slice of the range;
--   event_id last keeps the key unique-ish and sorts re-sent duplicates together.
-- PARTITION BY toYYYYMM(event_time): monthly parts are what TTL drops and what
--   re-pricing rebuilds; a month holds few enough partitions to stay cheap.
-- TTL 13 months: a year of history plus the month in progress.
-- non_replicated_deduplication_window: lets a retried insert with the same
--   insert_deduplication_token land once (exactly-once effect, ADR 0002).
-- idx_event_id: a bloom filter so the writer's "which of these event_ids do we
--   already have?" check skips granules instead of scanning them.
CREATE TABLE IF NOT EXISTS llm_usage
(
    event_id            UUID,
    event_time          DateTime64(3, 'UTC'),
    org_id              LowCardinality(String),
    project_id          LowCardinality(String),
    user_id             String,
    agent_id            LowCardinality(String),
    session_id          String,
    turn_id             String,
    message_id          String,
    call_sequence       Nullable(UInt32),
    provider            LowCardinality(String),
    model               LowCardinality(String),
    operation           LowCardinality(String),
    input_tokens        UInt64,
    output_tokens       UInt64,
    cached_input_tokens UInt64,
    cache_write_tokens  UInt64,
    reasoning_tokens    UInt64,
    cost_usd            Float64,
    cost_source         LowCardinality(String),
    pricing_version     LowCardinality(String),
    duration_ms         Nullable(UInt32),
    ttfb_ms             Nullable(UInt32),
    proxy_overhead_ms   Nullable(UInt32),
    status_code         UInt16,
    error_code          LowCardinality(String),
    streaming           UInt8,
    tags                Map(String, String),
    source              String,
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (org_id, event_time, event_id)
TTL toDateTime(event_time) + INTERVAL 13 MONTH
SETTINGS non_replicated_deduplication_window = 1000;
