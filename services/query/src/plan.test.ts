import { describe, expect, it } from "vitest";
import { hourlyRetentionStart, planSegments, planSums, type SumsQuestion } from "./plan.js";

const t = (s: string) => Date.parse(s);
const show = (segs: ReturnType<typeof planSegments>) =>
  segs.map((s) => `${s.source} ${new Date(s.from).toISOString()} ${new Date(s.to).toISOString()}`);
const none = { user: false };

describe("planSegments", () => {
  it("reads sums from hourly and minute edges from raw", () => {
    const segs = planSegments(t("2026-03-01T10:30:00Z"), t("2026-03-05T07:42:00Z"), [t("2026-03-02T00:00:00Z")], none);
    expect(show(segs)).toEqual([
      "raw 2026-03-01T10:30:00.000Z 2026-03-01T11:00:00.000Z",
      "hourly 2026-03-01T11:00:00.000Z 2026-03-05T07:00:00.000Z",
      "raw 2026-03-05T07:00:00.000Z 2026-03-05T07:42:00.000Z",
    ]);
  });

  it("reads whole days before the hourly retention from daily", () => {
    const needs = { user: false, hourlyFrom: t("2026-03-03T00:00:00Z") };
    const segs = planSegments(t("2026-03-01T10:30:00Z"), t("2026-03-05T07:42:00Z"), [t("2026-03-02T00:00:00Z")], needs);
    expect(show(segs)).toEqual([
      "raw 2026-03-01T10:30:00.000Z 2026-03-01T11:00:00.000Z",
      "hourly 2026-03-01T11:00:00.000Z 2026-03-02T00:00:00.000Z",
      "daily 2026-03-02T00:00:00.000Z 2026-03-03T00:00:00.000Z",
      "hourly 2026-03-03T00:00:00.000Z 2026-03-05T07:00:00.000Z",
      "raw 2026-03-05T07:00:00.000Z 2026-03-05T07:42:00.000Z",
    ]);
    expect(hourlyRetentionStart(t("2026-03-16T13:37:00Z"))).toBe(t("2025-02-19T00:00:00Z"));
  });

  it("uses hourly only when bucket boundaries are whole hours but not UTC midnights (New York days)", () => {
    const segs = planSegments(
      t("2026-03-07T05:00:00Z"),
      t("2026-03-10T04:00:00Z"),
      [t("2026-03-08T05:00:00Z"), t("2026-03-09T04:00:00Z")],
      none,
    );
    expect(show(segs)).toEqual(["hourly 2026-03-07T05:00:00.000Z 2026-03-10T04:00:00.000Z"]);
  });

  it("cuts around a boundary off the hour grid, and gives up on many of them", () => {
    const split = planSegments(t("2026-03-01T00:00:00Z"), t("2026-03-03T00:00:00Z"), [t("2026-03-01T18:30:00Z")], none);
    expect(show(split)).toEqual([
      "hourly 2026-03-01T00:00:00.000Z 2026-03-01T18:00:00.000Z",
      "raw 2026-03-01T18:00:00.000Z 2026-03-01T19:00:00.000Z",
      "hourly 2026-03-01T19:00:00.000Z 2026-03-03T00:00:00.000Z",
    ]);
    const halfHours = Array.from({ length: 47 }, (_, i) => t("2026-03-01T00:30:00Z") + i * 3_600_000);
    expect(show(planSegments(t("2026-03-01T00:00:00Z"), t("2026-03-03T00:00:00Z"), halfHours, none))).toEqual([
      "raw 2026-03-01T00:00:00.000Z 2026-03-03T00:00:00.000Z",
    ]);
  });

  it("never reads hourly for user questions", () => {
    const users = planSegments(t("2026-03-01T10:00:00Z"), t("2026-03-04T00:00:00Z"), [], { user: true });
    expect(show(users)).toEqual([
      "raw 2026-03-01T10:00:00.000Z 2026-03-02T00:00:00.000Z",
      "daily 2026-03-02T00:00:00.000Z 2026-03-04T00:00:00.000Z",
    ]);
  });

  it("cuts user questions at a boundary off the day grid (the summary's period split)", () => {
    const segs = planSegments(t("2026-03-01T00:00:00Z"), t("2026-03-05T00:00:00Z"), [t("2026-03-03T10:00:00Z")], {
      user: true,
    });
    expect(show(segs)).toEqual([
      "daily 2026-03-01T00:00:00.000Z 2026-03-03T00:00:00.000Z",
      "raw 2026-03-03T00:00:00.000Z 2026-03-04T00:00:00.000Z",
      "daily 2026-03-04T00:00:00.000Z 2026-03-05T00:00:00.000Z",
    ]);
  });

  it("reads a range shorter than an hour from raw", () => {
    expect(show(planSegments(t("2026-03-01T10:05:00Z"), t("2026-03-01T10:55:00Z"), [], none))).toEqual([
      "raw 2026-03-01T10:05:00.000Z 2026-03-01T10:55:00.000Z",
    ]);
  });
});

describe("planSums", () => {
  const q = (over: Partial<SumsQuestion> = {}): SumsQuestion => ({
    start: t("2026-03-01T10:30:00Z"),
    end: t("2026-03-05T07:42:00Z"),
    filters: {},
    hourly_from: t("2026-03-03T00:00:00Z"),
    ...over,
  });
  const sources = (segs: ReturnType<typeof planSums>) => segs.map((s) => s.source);

  it("reads the model rollup for questions that touch only provider, model and error_code, raw edges and old days unchanged", () => {
    const byModel = planSums(q({ filters: { provider: ["openai"], model: [] }, group_by: "model" }), [], ["error_code"]);
    expect(show(byModel)).toEqual([
      "raw 2026-03-01T10:30:00.000Z 2026-03-01T11:00:00.000Z",
      "model_hourly 2026-03-01T11:00:00.000Z 2026-03-02T00:00:00.000Z",
      "daily 2026-03-02T00:00:00.000Z 2026-03-03T00:00:00.000Z",
      "model_hourly 2026-03-03T00:00:00.000Z 2026-03-05T07:00:00.000Z",
      "raw 2026-03-05T07:00:00.000Z 2026-03-05T07:42:00.000Z",
    ]);
    expect(sources(planSums(q(), [], []))).toEqual(["raw", "model_hourly", "daily", "model_hourly", "raw"]);
  });

  it("keeps the full hourly rollup for project and agent questions, and the endpoint's own agent_id", () => {
    const full = ["raw", "hourly", "daily", "hourly", "raw"];
    expect(sources(planSums(q({ filters: { project_id: ["web"] } }), [], []))).toEqual(full);
    expect(sources(planSums(q({ filters: { agent_id: ["a"] }, group_by: "model" }), [], []))).toEqual(full);
    expect(sources(planSums(q({ group_by: "project_id" }), [], ["error_code"]))).toEqual(full);
    expect(sources(planSums(q(), [], ["agent_id"]))).toEqual(full);
  });

  it("never reads an hourly rollup for user questions", () => {
    const users = [planSums(q({ filters: { user_id: ["u1"] } }), [], []), planSums(q({ group_by: "user_id" }), [], ["provider"])];
    for (const segs of users) expect(sources(segs)).toEqual(["raw", "daily", "raw"]);
  });
});
