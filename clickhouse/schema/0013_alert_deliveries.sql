-- The delivery log: one row per attempt to send a notification to a channel.
--
-- delivery_id: "<event id>:<channel index>" (a resend appends ":r<n>"); attempt
--   counts from 1. status: delivered | failed (will retry) | gave_up | refused
--   (the URL resolved to a refused address).
-- ENGINE MergeTree, ORDER BY (org_id, at, delivery_id): the log is read per org,
--   newest first; rows are never updated.
-- TTL 90 days.
CREATE TABLE IF NOT EXISTS alert_deliveries
(
    org_id         String,
    delivery_id    String,
    event_id       String,
    rule_id        String,
    channel        UInt16,
    channel_type   LowCardinality(String),
    attempt        UInt16,
    status         LowCardinality(String),
    response_code  UInt16,
    error          String,
    at             DateTime64(3, 'UTC'),
    next_attempt_at Nullable(DateTime64(3, 'UTC'))
)
ENGINE = MergeTree
ORDER BY (org_id, at, delivery_id)
TTL toDateTime(at) + INTERVAL 90 DAY;
