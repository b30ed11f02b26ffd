-- Non-token prices (DESIGN.md "Event schema v1.1"): per image / pixel, per
-- second of audio, per character, per query, per web search, per page, and
-- the batch / flex / priority token prices, as one JSON text beside the token
-- prices: {"units": {...}, "service_tiers": {"batch": {...}, ...}}, '' when a
-- model has none. Read whole with its row (like tiers_json), never filtered on.
ALTER TABLE model_pricing ADD COLUMN IF NOT EXISTS extra_json String DEFAULT '' AFTER tiers_json;
