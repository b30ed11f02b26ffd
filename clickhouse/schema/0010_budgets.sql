-- Budgets: one row per write of a budget's definition (create, update, delete).
--
-- definition: the validated budget as JSON text (name, metric, limit, window,
--   scope, per, thresholds, enforcement). Read whole and checked with zod by the
--   service, so adding a field never needs a migration.
-- ENGINE ReplacingMergeTree(version), ORDER BY (org_id, id): every read is one
--   org's budgets (or one of them); the newest version of a budget wins, a
--   delete is a newer row with deleted = 1. Read with FINAL (a few rows per org).
-- No PARTITION and no TTL: a budget lives until it is deleted.
CREATE TABLE IF NOT EXISTS budgets
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
