import { describe, expect, it } from "vitest";
import { buildLatencyQuery } from "./routes/latency.js";
import { buildSummaryQuery } from "./routes/summary.js";
import { bucketDim, buildAggregateQuery, column, REQUESTS, rangeValue, rawP95, sumOf } from "./sql.js";

const t = (s: string) => Date.parse(s);

describe("buildAggregateQuery", () => {
  it("unions raw edges with rollup segments, every value bound", () => {
    const q = buildAggregateQuery({
      org_id: "org-a",
      segments: [
        { source: "raw", from: t("2026-03-01T10:30:00Z"), to: t("2026-03-01T11:00:00Z") },
        { source: "hourly", from: t("2026-03-01T11:00:00Z"), to: t("2026-03-02T00:00:00Z") },
        { source: "daily", from: t("2026-03-02T00:00:00Z"), to: t("2026-03-04T00:00:00Z") },
      ],
      dims: [bucketDim("day")],
      measures: [REQUESTS, sumOf("cost_usd")],
      filters: { model: ["gpt-4o"] },
      params: { tz: "UTC" },
    });
    expect(q.sql).toBe(
      "SELECT bucket, sum(requests) AS requests, sum(cost_usd) AS cost_usd FROM (" +
        "SELECT toUnixTimestamp(toStartOfDay(event_time, {tz:String})) AS bucket, count() AS requests, sum(cost_usd) AS cost_usd FROM llm_usage" +
        " WHERE org_id = {org_id:String} AND event_time >= {from_0:DateTime64(3, 'UTC')} AND event_time < {to_0:DateTime64(3, 'UTC')} AND model IN {model:Array(String)} GROUP BY bucket" +
        " UNION ALL SELECT toUnixTimestamp(toStartOfDay(hour, {tz:String})) AS bucket, sum(requests) AS requests, sum(cost_usd) AS cost_usd FROM llm_usage_hourly" +
        " WHERE org_id = {org_id:String} AND hour >= {from_1:DateTime('UTC')} AND hour < {to_1:DateTime('UTC')} AND model IN {model:Array(String)} GROUP BY bucket" +
        " UNION ALL SELECT toUnixTimestamp(toStartOfDay(toDateTime(day, 'UTC'), {tz:String})) AS bucket, sum(requests) AS requests, sum(cost_usd) AS cost_usd FROM llm_usage_daily" +
        " WHERE org_id = {org_id:String} AND day >= {from_2:Date} AND day < {to_2:Date} AND model IN {model:Array(String)} GROUP BY bucket" +
        ") GROUP BY bucket ORDER BY bucket",
    );
    expect(q.params).toEqual({
      org_id: "org-a",
      tz: "UTC",
      model: ["gpt-4o"],
      from_0: "2026-03-01 10:30:00.000",
      to_0: "2026-03-01 11:00:00.000",
      from_1: "2026-03-01 11:00:00",
      to_1: "2026-03-02 00:00:00",
      from_2: "2026-03-02",
      to_2: "2026-03-04",
    });
  });

  it("reads both raw edges of a range in one SELECT (their ranges ORed), the rollup in another", () => {
    const q = buildAggregateQuery({
      org_id: "o",
      segments: [
        { source: "raw", from: t("2026-03-01T10:30:00Z"), to: t("2026-03-01T11:00:00Z") },
        { source: "model_hourly", from: t("2026-03-01T11:00:00Z"), to: t("2026-03-03T09:00:00Z") },
        { source: "raw", from: t("2026-03-03T09:00:00Z"), to: t("2026-03-03T09:41:00Z") },
      ],
      dims: [bucketDim("day")],
      measures: [REQUESTS],
      filters: {},
      params: { tz: "UTC" },
    });
    expect(q.sql).toBe(
      "SELECT bucket, sum(requests) AS requests FROM (" +
        "SELECT toUnixTimestamp(toStartOfDay(event_time, {tz:String})) AS bucket, count() AS requests FROM llm_usage WHERE org_id = {org_id:String}" +
        " AND ((event_time >= {from_0:DateTime64(3, 'UTC')} AND event_time < {to_0:DateTime64(3, 'UTC')})" +
        " OR (event_time >= {from_2:DateTime64(3, 'UTC')} AND event_time < {to_2:DateTime64(3, 'UTC')})) GROUP BY bucket" +
        " UNION ALL SELECT toUnixTimestamp(toStartOfDay(hour, {tz:String})) AS bucket, sum(requests) AS requests FROM llm_usage_model_hourly" +
        " WHERE org_id = {org_id:String} AND hour >= {from_1:DateTime('UTC')} AND hour < {to_1:DateTime('UTC')} GROUP BY bucket" +
        ") GROUP BY bucket ORDER BY bucket",
    );
    expect(q.params).toMatchObject({ from_0: "2026-03-01 10:30:00.000", to_2: "2026-03-03 09:41:00.000" });
  });

  it("reads the model rollup with the hourly range type", () => {
    const q = buildAggregateQuery({
      org_id: "o",
      segments: [{ source: "model_hourly", from: t("2026-03-01T11:00:00Z"), to: t("2026-03-02T00:00:00Z") }],
      dims: [bucketDim("day"), column("error_code")],
      measures: [REQUESTS],
      filters: { provider: ["openai"] },
      params: { tz: "UTC" },
    });
    expect(q.sql).toBe(
      "SELECT bucket, error_code, sum(requests) AS requests FROM (" +
        "SELECT toUnixTimestamp(toStartOfDay(hour, {tz:String})) AS bucket, error_code AS error_code, sum(requests) AS requests FROM llm_usage_model_hourly" +
        " WHERE org_id = {org_id:String} AND hour >= {from_0:DateTime('UTC')} AND hour < {to_0:DateTime('UTC')} AND provider IN {provider:Array(String)} GROUP BY bucket, error_code" +
        ") GROUP BY bucket, error_code ORDER BY bucket, error_code",
    );
    expect(q.params).toMatchObject({ from_0: "2026-03-01 11:00:00", to_0: "2026-03-02 00:00:00", provider: ["openai"] });
  });

  it("merges raw-only p95 states and ranks with a bound limit; a rollup cannot answer them", () => {
    const spec = {
      org_id: "o",
      segments: [{ source: "raw" as const, from: 0, to: 3_600_000 }],
      dims: [column("agent_id")],
      measures: [rawP95("ttfb_ms")],
      filters: {},
      where: "agent_id != ''",
      orderBy: "agent_id",
      limit: 5,
    };
    const q = buildAggregateQuery(spec);
    expect(q.sql).toBe(
      "SELECT agent_id, quantileExactMerge(0.95)(ttfb_ms_p95) AS ttfb_ms_p95 FROM (" +
        "SELECT agent_id AS agent_id, quantileExactState(0.95)(ttfb_ms) AS ttfb_ms_p95 FROM llm_usage" +
        " WHERE org_id = {org_id:String} AND event_time >= {from_0:DateTime64(3, 'UTC')} AND event_time < {to_0:DateTime64(3, 'UTC')} AND agent_id != '' GROUP BY agent_id" +
        ") GROUP BY agent_id ORDER BY agent_id LIMIT {limit:UInt32}",
    );
    expect(q.params.limit).toBe(5);
    expect(() => buildAggregateQuery({ ...spec, segments: [{ source: "hourly", from: 0, to: 3_600_000 }] })).toThrow(
      "ttfb_ms_p95 exists in raw rows only",
    );
  });

  it("buckets weeks on Monday and months in the zone", () => {
    expect(bucketDim("week").expr("raw")).toBe("toUnixTimestamp(toDateTime(toStartOfWeek(event_time, 1, {tz:String}), {tz:String}))");
    expect(bucketDim("month").expr("hourly")).toBe("toUnixTimestamp(toDateTime(toStartOfMonth(hour, {tz:String}), {tz:String}))");
    expect(rangeValue("daily", t("2026-03-02T00:00:00Z"))).toBe("2026-03-02");
  });

  it("answers the summary in one statement: one raw scan for both periods, users from the planned segments", () => {
    const q = buildSummaryQuery("o", t("2026-03-01T00:00:00Z"), t("2026-03-02T00:00:00Z"), t("2026-03-03T00:00:00Z"), {
      provider: ["openai"],
      model: undefined,
    });
    expect(q.sql).toContain(
      "FROM llm_usage WHERE org_id = {org_id:String} AND event_time >= {span_from:DateTime64(3, 'UTC')} AND event_time < {span_to:DateTime64(3, 'UTC')} AND provider IN {provider:Array(String)} GROUP BY period",
    );
    expect(q.sql).toContain("length(groupUniqArrayMerge(active_users)) AS active_users FROM (SELECT");
    expect(q.sql).toContain("FROM llm_usage_daily WHERE");
    expect(q.sql.match(/SELECT/g)?.length).toBeGreaterThan(2);
    expect(q.params).toMatchObject({
      org_id: "o",
      provider: ["openai"],
      span_from: "2026-03-01 00:00:00.000",
      split: "2026-03-02 00:00:00.000",
    });
    expect(q.params).not.toHaveProperty("model");
  });

  it("reads latency percentiles from one org- and range-bound raw scan, filters bound", () => {
    const q = buildLatencyQuery("o", t("2026-03-01T00:00:00Z"), t("2026-03-02T00:00:00Z"), "hour", "Asia/Kolkata", { model: ["m"] });
    expect(q.sql).toBe(
      "SELECT toUnixTimestamp(toStartOfHour(event_time, {tz:String})) AS bucket, count() AS requests, " +
        "if(count(ttfb_ms) > 0, arrayMap(v -> toFloat64(v), quantilesExact(0.5, 0.95, 0.99)(ttfb_ms)), [nan, nan, nan]) AS ttfb_ms_q, " +
        "if(count(proxy_overhead_ms) > 0, arrayMap(v -> toFloat64(v), quantilesExact(0.5, 0.95, 0.99)(proxy_overhead_ms)), [nan, nan, nan]) AS proxy_overhead_ms_q, " +
        "if(count(duration_ms) > 0, arrayMap(v -> toFloat64(v), quantilesExact(0.5, 0.95, 0.99)(duration_ms)), [nan, nan, nan]) AS duration_ms_q " +
        "FROM llm_usage WHERE org_id = {org_id:String} AND event_time >= {from:DateTime64(3, 'UTC')} AND event_time < {to:DateTime64(3, 'UTC')} AND model IN {model:Array(String)} GROUP BY bucket ORDER BY bucket",
    );
    expect(q.params).toEqual({
      org_id: "o",
      tz: "Asia/Kolkata",
      from: "2026-03-01 00:00:00.000",
      to: "2026-03-02 00:00:00.000",
      model: ["m"],
    });
  });
});
