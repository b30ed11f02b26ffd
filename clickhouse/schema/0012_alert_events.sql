-- Alert notifications (the history and the delivery outbox): one row per
-- (rule, group, window start or episode, threshold or transition).
--
-- id: deterministic (a hash of that dedup key), so an evaluation repeated after
--   a crash or by a second worker writes the same row again, and the delivery
--   job keyed by it is queued once.
-- type: alert.triggered | alert.resolved | budget.threshold_crossed | budget.exceeded.
-- episode: for metric rules the instant the alert triggered (a resolve names the
--   episode it closes); for budget rules the window start.
-- payload: the webhook body's `data` as JSON text.
-- ENGINE ReplacingMergeTree, ORDER BY (org_id, rule_id, id): a re-written row
--   collapses into the first; history reads are one org's, newest first.
-- TTL 400 days: a year of history.
CREATE TABLE IF NOT EXISTS alert_events
(
    org_id       String,
    id           String,
    rule_id      String,
    group_key    String,
    type         LowCardinality(String),
    episode      DateTime64(3, 'UTC'),
    occurred_at  DateTime64(3, 'UTC'),
    payload      String
)
ENGINE = ReplacingMergeTree
ORDER BY (org_id, rule_id, id)
TTL toDateTime(occurred_at) + INTERVAL 400 DAY;
