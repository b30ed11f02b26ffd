-- Alert rules: one row per write of a rule (create, update, delete), exactly
-- like budgets (0010): the definition is JSON text checked with zod on read.
--
-- ENGINE ReplacingMergeTree(version), ORDER BY (org_id, id): the evaluator reads
--   every org's live rules once a minute, the API one org's; newest version wins.
CREATE TABLE IF NOT EXISTS alert_rules
(
    org_id      String,
    id          String,
    version     UInt64,
    deleted     UInt8,
    definition  String,
    created_at  DateTime64(3, 'UTC'),
    updated_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (org_id, id);
