-- Model prices, versioned by effective_from: every refresh that changes a
-- model's prices adds a row; old rows stay so an event is priced (and can be
-- re-priced) with the prices in effect at its event_time. A few thousand rows
-- in total: services load the whole table into memory.
--
-- model: the price list's key as published (LiteLLM: "gpt-4o", "azure/gpt-4o");
--   events are matched to it by the normalization in @tokenmeter/pricing.
-- version: the refresh run that wrote the row; stored on each priced event as
--   llm_usage.pricing_version.
-- tiers_json: long-context price levels, a JSON array of
--   {above_input_tokens, input, output, cache_read, cache_write}; kept as text
--   because it is only ever read whole, next to the row.
--
-- ENGINE ReplacingMergeTree(recorded_at), ORDER BY (model, effective_from): one
--   row per model and start instant; a retried refresh insert collapses into
--   the row it repeats. Read with FINAL (the table is tiny).
-- No PARTITION and no TTL: history is needed as long as any priced event is.
CREATE TABLE IF NOT EXISTS model_pricing
(
    model                      String,
    provider                   LowCardinality(String),
    mode                       LowCardinality(String),
    effective_from             DateTime64(3, 'UTC'),
    version                    String,
    source                     String,
    input_cost_per_token       Float64,
    output_cost_per_token      Float64,
    cache_read_cost_per_token  Nullable(Float64),
    cache_write_cost_per_token Nullable(Float64),
    reasoning_cost_per_token   Nullable(Float64),
    tiers_json                 String,
    recorded_at                DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(recorded_at)
ORDER BY (model, effective_from)
SETTINGS non_replicated_deduplication_window = 100;
