import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toUsageRow } from "@tokenmeter/core";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTokenmeter, type Tokenmeter } from "../apps/tokenmeter/src/app.js";
import { loadConfig } from "../apps/tokenmeter/src/config.js";
import { usageEvent } from "../packages/pricing/src/testing.js";

// Price overrides per org (issue 16): an org prices a model the price list
// does not know; its unpriced history is re-priced and new events are priced
// at ingest, while another org's events of the same model stay unpriced.
const MODEL = "ft:gpt-4o-mini:acme:support-v3";
const PRICES = { input_cost_per_token: 3e-7, output_cost_per_token: 1.2e-6, cache_read_input_token_cost: 1.5e-7 };

describe("PUT /v1/pricing/overrides/{model}", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tm-overrides-"));
  let tm: Tokenmeter;
  const now = Date.now();
  const event = (i: number, ago: number) => ({
    event_id: randomUUID(),
    event_time: new Date(now - ago).toISOString(),
    provider: "openai",
    model: MODEL,
    input_tokens: 1000 + i,
    cached_input_tokens: 200,
    output_tokens: 300 + i,
    status_code: 200,
  });
  const cost = (e: ReturnType<typeof event>) =>
    (e.input_tokens - 200) * PRICES.input_cost_per_token +
    200 * PRICES.cache_read_input_token_cost +
    e.output_tokens * PRICES.output_cost_per_token;

  async function call(method: string, path: string, org: string, body?: unknown): Promise<Response> {
    return await fetch(`${tm.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${await tm.issueToken(org)}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }
  // A new `end` each call: the result cache (60 s) would otherwise answer with the figures from before the re-pricing.
  let calls = 0;
  const summary = async (org: string) =>
    (await (
      await call(
        "GET",
        `/v1/analytics/summary?start=${new Date(now - 86_400_000 * 3).toISOString()}&end=${new Date(now + 60_000 + ++calls).toISOString()}`,
        org,
      )
    ).json()) as {
      requests: number;
      unpriced_requests: number;
      cost_usd: number;
    };

  beforeAll(async () => {
    const parsed = loadConfig({
      TOKENMETER_DATA_DIR: dataDir,
      TOKENMETER_PORT: "0",
      TOKENMETER_DEMO: "0",
      TOKENMETER_JWT_SECRET: "overrides-secret-overrides-secret-0123",
      // Long enough for the straggler test to store its row after the answer, short enough to wait for.
      TOKENMETER_PRICING_STRAGGLER_DELAY_MS: "2000",
    });
    if (!parsed.ok) throw new Error(parsed.errors.join("; "));
    tm = await startTokenmeter(parsed.config, { logger: pino({ level: "error" }) });
  }, 120_000);
  afterAll(async () => {
    await tm?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("prices the org's unpriced history and its new events, not another org's", async () => {
    const history = Array.from({ length: 20 }, (_, i) => event(i, 86_400_000 + i * 60_000));
    expect((await call("POST", "/v1/events", "acme", history)).status).toBe(200);
    expect(
      (
        await call(
          "POST",
          "/v1/events",
          "globex",
          history.map((e) => ({ ...e, event_id: randomUUID() })),
        )
      ).status,
    ).toBe(200);
    expect(await summary("acme")).toMatchObject({ requests: 20, unpriced_requests: 20, cost_usd: 0 });

    // Bad bodies are refused with the field named.
    const bad = await call("PUT", `/v1/pricing/overrides/${encodeURIComponent(MODEL)}`, "acme", { input_cost_per_token: -1 });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("input_cost_per_token");

    const res = await call("PUT", `/v1/pricing/overrides/${encodeURIComponent(MODEL)}`, "acme", PRICES);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { reprice: { rows_changed: number } }).reprice.rows_changed).toBe(20);
    const after = await summary("acme");
    expect(after.unpriced_requests).toBe(0);
    expect(Math.abs(after.cost_usd - history.reduce((s, e) => s + cost(e), 0))).toBeLessThanOrEqual(1e-6);
    expect(await summary("globex")).toMatchObject({ unpriced_requests: 20, cost_usd: 0 });

    // New events of the org are priced at ingest with the override.
    const fresh = [event(100, 1_000)];
    expect((await call("POST", "/v1/events", "acme", fresh)).status).toBe(200);
    const later = await summary("acme");
    expect(later.unpriced_requests).toBe(0);
    expect(Math.abs(later.cost_usd - [...history, ...fresh].reduce((s, e) => s + cost(e), 0))).toBeLessThanOrEqual(1e-6);
    const list = (await (await call("GET", "/v1/pricing/overrides", "acme")).json()) as { overrides: { model: string }[] };
    expect(list.overrides.map((o) => o.model)).toEqual([MODEL]);
    expect(((await (await call("GET", "/v1/pricing/overrides", "globex")).json()) as { overrides: unknown[] }).overrides).toEqual([]);
  });

  it("re-prices, after answering, an event priced with the old price and stored after the re-price passed (the straggler pass)", async () => {
    const model = `${MODEL}-stragglers`;
    const history = Array.from({ length: 3 }, (_, i) => ({ ...event(i, 86_400_000 + i * 60_000), model }));
    expect((await call("POST", "/v1/events", "acme", history)).status).toBe(200);
    const res = await call("PUT", `/v1/pricing/overrides/${encodeURIComponent(model)}`, "acme", PRICES);
    expect(res.status).toBe(200);
    // The answer reports the first pass, as before.
    expect(((await res.json()) as { reprice: { rows_changed: number } }).reprice).toMatchObject({ rows_changed: 3, pricing_updated: true });

    // Priced by an ingest process that had not reloaded yet, stored once the first pass was done.
    const late = { ...event(7, 2 * 86_400_000), model };
    const straggler = usageEvent({
      event_id: late.event_id,
      event_time_ms: Date.parse(late.event_time),
      org_id: "acme",
      provider: late.provider,
      model,
      input_tokens: late.input_tokens,
      cached_input_tokens: late.cached_input_tokens,
      output_tokens: late.output_tokens,
    });
    await tm.store.insert("llm_usage", [toUsageRow(straggler, { cost_usd: 0, cost_source: "unpriced", pricing_version: "" }, "test")]);
    const unpriced = async () =>
      Number(
        (
          await tm.store.query<{ n: number }>("SELECT countIf(cost_source = 'unpriced') AS n FROM llm_usage WHERE model = {model:String}", {
            model,
          })
        )[0]?.n,
      );
    expect(await unpriced()).toBe(1);
    // The straggler pass runs 2 s after the first (TOKENMETER_PRICING_STRAGGLER_DELAY_MS), in the background.
    for (let i = 0; i < 150 && (await unpriced()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await unpriced()).toBe(0);
    const [row] = await tm.store.query<{ cost_usd: number }>("SELECT cost_usd FROM llm_usage WHERE event_id = {id:UUID}", {
      id: late.event_id,
    });
    expect(Math.abs(Number(row?.cost_usd) - cost(late))).toBeLessThan(1e-9);
  }, 30_000);

  it("prices non-token units at ingest from the bundled list (image variant, audio seconds) and leaves an unpriced unit unpriced", async () => {
    const base = {
      provider: "openai",
      input_tokens: 0,
      output_tokens: 0,
      status_code: 200,
      event_time: new Date(now - 5_000).toISOString(),
    };
    const sent = [
      {
        ...base,
        event_id: randomUUID(),
        model: "dall-e-3",
        operation: "image",
        image_size: "1024x1024",
        image_quality: "hd",
        units: { images: 2 },
      },
      { ...base, event_id: randomUUID(), model: "whisper-1", operation: "audio", units: { audio_input_seconds: 90 } },
      { ...base, event_id: randomUUID(), model: "whisper-1", operation: "audio", units: { characters: 10 } },
    ];
    const res = await call("POST", "/v1/events", "units-org", [...sent, { ...sent[0], event_id: randomUUID(), units: { pixels: 1 } }]);
    const body = (await res.json()) as { accepted: number; rejected: { index: number; errors: { path: string; message: string }[] }[] };
    expect(body.accepted).toBe(3);
    expect(body.rejected).toMatchObject([{ index: 3, errors: [{ path: "units" }] }]);
    const models = (await (
      await call(
        "GET",
        `/v1/analytics/models?start=${new Date(now - 86_400_000).toISOString()}&end=${new Date(now + 120_000).toISOString()}`,
        "units-org",
      )
    ).json()) as {
      models: { model: string; cost_usd: number; unpriced_requests: number; requests: number; cost_breakdown: { units: number } }[];
    };
    const byModel = Object.fromEntries(models.models.map((m) => [m.model, m]));
    // The bundled file's own entries: hd/1024-x-1024/dall-e-3 per pixel, whisper-1 per second.
    const { readFileSync } = await import("node:fs");
    const file = JSON.parse(readFileSync(new URL("../packages/pricing/snapshot/litellm-snapshot.json", import.meta.url), "utf8"));
    const image = file["hd/1024-x-1024/dall-e-3"].input_cost_per_pixel * 1024 * 1024 * 2;
    const audio = file["whisper-1"].input_cost_per_second * 90;
    expect(Math.abs((byModel["dall-e-3"]?.cost_usd ?? -1) - image)).toBeLessThanOrEqual(5e-7);
    expect(Math.abs((byModel["dall-e-3"]?.cost_breakdown.units ?? -1) - image)).toBeLessThanOrEqual(5e-7);
    expect(byModel["whisper-1"]).toMatchObject({ requests: 2, unpriced_requests: 1 });
    expect(Math.abs((byModel["whisper-1"]?.cost_usd ?? -1) - audio)).toBeLessThanOrEqual(5e-7);
  });
});
