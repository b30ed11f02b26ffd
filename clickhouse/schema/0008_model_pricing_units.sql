-- Non-token prices (DESIGN.md "Event schema v1.1"): per image / pixel, per
-- second of audio, per character, per query, per web search, per page, and
-- the batch / flex / priority token prices, as one JSON text beside the token
-- prices: {"units": {...}, "service_tiers": {"batch": {...}, ...}}, '' when a
-- model has none. Read whole with its row (like tiers_json), never filtered on.
ALTER TABLE model_pricing ADD COLUMN IF NOT EXISTS extra_json String DEFAULT '' AFTER tiers_json;

-- Price overrides per org (issue 16): an org prices a model the price list
-- does not know (a fine-tune, a self-hosted model) or prices differently.
-- Effective-dated like model_pricing; an org's override wins over the list
-- for that org's events from effective_from on. Same price columns as
-- model_pricing (prices in USD per token; extra_json for unit / tier prices).
-- ReplacingMergeTree(recorded_at), ORDER BY (org_id, model, effective_from):
-- setting the same model and instant again replaces the row. Read FINAL (small).
CREATE TABLE IF NOT EXISTS model_price_overrides
(
    org_id                     LowCardinality(String),
    model                      String,
    effective_from             DateTime64(3, 'UTC'),
    input_cost_per_token       Float64,
    output_cost_per_token      Float64,
    cache_read_cost_per_token  Nullable(Float64),
    cache_write_cost_per_token Nullable(Float64),
    reasoning_cost_per_token   Nullable(Float64),
    extra_json                 String DEFAULT '',
    recorded_at                DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(recorded_at)
ORDER BY (org_id, model, effective_from);
