-- Event schema v1.1 on the raw table (DESIGN.md "Event schema v1.1", "Query dimensions v1.1").
--
-- units: non-token quantities of the call (images, audio seconds, characters,
--   queries, ...); a Map because the set is small, fixed by the event schema and
--   mostly empty (an empty Map costs a few bytes per row).
-- service_tier, image_size, image_quality: what selects the price variant, kept
--   so a re-pricing job prices the call exactly as ingest did.
-- cost_*_usd: the cost breakdown (input, cached input, cache write, output,
--   reasoning, units) so a user can see why a call cost what it did; they add up
--   to cost_usd for computed costs and are 0 for reported / unpriced ones.
--   Decimal(18, 12) per event (up to $999,999.999999999999 for one call):
--   measured ~7 % less engine CPU per inserted row than Decimal(38, 12) for the
--   six (docs/benchmarks.md §8a); every sum of them (sum() of a Decimal64 is a
--   Decimal128) and every rollup column stays Decimal(38, 12).
-- cost_usd as Decimal(38, 12): exact money. 12 decimals per event (prices go
--   down to 1e-9 USD per token); 26 integer digits, so no sum below 10^26 USD
--   can overflow; a sum is the same whatever the order of merges or reads. The
--   engine converts the Float64 values through their shortest decimal text
--   (0.3 stays 0.3), so existing rows keep the figures the API showed.
ALTER TABLE llm_usage
    ADD COLUMN IF NOT EXISTS units Map(LowCardinality(String), Float64) AFTER reasoning_tokens,
    ADD COLUMN IF NOT EXISTS service_tier LowCardinality(String) DEFAULT 'standard' AFTER units,
    ADD COLUMN IF NOT EXISTS image_size LowCardinality(String) DEFAULT '' AFTER service_tier,
    ADD COLUMN IF NOT EXISTS image_quality LowCardinality(String) DEFAULT '' AFTER image_size,
    ADD COLUMN IF NOT EXISTS cost_input_usd Decimal(18, 12) DEFAULT 0 AFTER cost_usd,
    ADD COLUMN IF NOT EXISTS cost_cached_input_usd Decimal(18, 12) DEFAULT 0 AFTER cost_input_usd,
    ADD COLUMN IF NOT EXISTS cost_cache_write_usd Decimal(18, 12) DEFAULT 0 AFTER cost_cached_input_usd,
    ADD COLUMN IF NOT EXISTS cost_output_usd Decimal(18, 12) DEFAULT 0 AFTER cost_cache_write_usd,
    ADD COLUMN IF NOT EXISTS cost_reasoning_usd Decimal(18, 12) DEFAULT 0 AFTER cost_output_usd,
    ADD COLUMN IF NOT EXISTS cost_units_usd Decimal(18, 12) DEFAULT 0 AFTER cost_reasoning_usd;

ALTER TABLE llm_usage MODIFY COLUMN cost_usd Decimal(38, 12);

-- Tag filters (`tag.team=growth`) read raw rows: a bloom filter on the tag keys
-- and one on the values let a filter skip the granules that cannot hold the
-- pair (`tags['team'] = 'growth'` uses both; measured in docs/benchmarks.md).
-- GRANULARITY 1: one filter per 8,192-row granule, the finest skip unit.
ALTER TABLE llm_usage
    ADD INDEX IF NOT EXISTS idx_tag_keys mapKeys(tags) TYPE bloom_filter(0.01) GRANULARITY 1,
    ADD INDEX IF NOT EXISTS idx_tag_values mapValues(tags) TYPE bloom_filter(0.01) GRANULARITY 1;

-- Existing parts get the indexes too (new parts build them on insert).
ALTER TABLE llm_usage MATERIALIZE INDEX idx_tag_keys;

ALTER TABLE llm_usage MATERIALIZE INDEX idx_tag_values;
