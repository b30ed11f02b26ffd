/**
 * The contract every Store driver must pass, run against the real engine:
 * ChdbStore directly and HttpStore over HTTP. Import it from a driver's test
 * file; it is not exported from the package (it needs vitest).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isDataError } from "./errors.js";
import { migrate } from "./migrate.js";
import { DEFAULT_MAX_PARAM_BYTES, type Store, StoreError } from "./store.js";

/** A fresh store on its own, empty database, and how to dispose of it. */
export type OpenStore = () => Promise<Store>;

export function describeStoreConformance(name: string, openStore: OpenStore): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;

    beforeAll(async () => {
      store = await openStore();
      await migrate(store);
      await store.command(`CREATE TABLE items (id UInt32, name String, tags Array(String), at DateTime64(3, 'UTC'))
        ENGINE = MergeTree ORDER BY id`);
    });

    afterAll(async () => {
      await store.command(`DROP DATABASE IF EXISTS ${store.database}`);
      await store.close();
    });

    it("binds every parameter type the services use", async () => {
      const at = new Date("2026-03-04T05:06:07.089Z");
      const ids = [randomUUID(), randomUUID()];
      const rows = await store.query(
        `SELECT {s:String} AS s, {arr:Array(String)} AS arr, {ids:Array(UUID)} AS ids,
                toString({at:DateTime64(3, 'UTC')}) AS at, toString({sec:DateTime('UTC')}) AS sec,
                toString({text_at:DateTime64(3, 'UTC')}) AS text_at, {day:Date} AS day,
                {u8:UInt8} AS u8, {u32:UInt32} AS u32, {u64:UInt64} AS u64, {f:Float64} AS f,
                {m:Map(String, String)} AS m, {flag:UInt8} AS flag, {empty:Array(String)} AS empty`,
        {
          s: "plain",
          arr: ["a", "b c"],
          ids,
          at,
          sec: new Date("2026-03-04T05:06:07Z"),
          text_at: "2026-03-04 05:06:07.089",
          day: "2026-03-04",
          u8: 255,
          u32: 4_294_967_295,
          u64: Number.MAX_SAFE_INTEGER,
          f: 0.125,
          m: { gpu: "a100", "team name": "x y" },
          flag: true,
          empty: [],
        },
      );
      expect(rows).toEqual([
        {
          s: "plain",
          arr: ["a", "b c"],
          ids,
          at: "2026-03-04 05:06:07.089",
          sec: "2026-03-04 05:06:07",
          text_at: "2026-03-04 05:06:07.089",
          day: "2026-03-04",
          u8: 255,
          u32: 4_294_967_295,
          u64: Number.MAX_SAFE_INTEGER,
          f: 0.125,
          m: { gpu: "a100", "team name": "x y" },
          flag: 1,
          empty: [],
        },
      ]);
    });

    it("binds a parameter as large as maxParamBytes allows, past max_query_size (the Kafka consumer's id lookup)", async () => {
      // The stored-copy lookup sends up to maxParamBytes of ids in one String; a server binds it apart
      // from the statement text, so its 256 KiB max_query_size must not apply.
      const bytes = Math.min(store.maxParamBytes ?? DEFAULT_MAX_PARAM_BYTES, 2 * 1024 * 1024) - 16;
      const s = "1234567890123456_".repeat(Math.floor(bytes / 17));
      const [row] = await store.query<{ n: number; parts: number }>(
        "SELECT length({s:String}) AS n, length(splitByChar('_', {s:String})) AS parts",
        { s },
      );
      expect(row).toEqual({ n: s.length, parts: Math.floor(bytes / 17) + 1 });
      expect(s.length).toBeGreaterThan(256 * 1024);
    });

    it("binds injection-looking strings as data, never as SQL", async () => {
      const nasty = [
        "'; DROP TABLE llm_usage; --",
        "\\' OR 1=1 --",
        "{s:String}",
        "tab\there\nnewline\\N",
        "back\\slash\\",
        'double "quote"',
        "ünïcødé 🚀",
      ];
      for (const s of nasty) {
        const rows = await store.query<{ s: string; arr: string[]; m: Record<string, string> }>(
          "SELECT {s:String} AS s, {arr:Array(String)} AS arr, {m:Map(String, String)} AS m",
          { s, arr: [s, "x"], m: { [s]: s } },
        );
        expect(rows).toEqual([{ s, arr: [s, "x"], m: { [s]: s } }]);
      }
      const hits = await store.query("SELECT count() AS n FROM llm_usage WHERE org_id = {org:String}", { org: "' OR '1'='1" });
      expect(hits).toEqual([{ n: 0 }]);
    });

    it("inserts objects, a JSONEachRow string and a Buffer", async () => {
      await store.insert("items", [{ id: 1, name: "obj", tags: ["a"], at: "2026-01-01 00:00:00.001" }]);
      await store.insert("items", '{"id":2,"name":"str","tags":[],"at":"2026-01-01 00:00:00.002"}\n');
      await store.insert("items", Buffer.from('{"id":3,"name":"buf","tags":["b","c"],"at":"2026-01-01 00:00:00.003"}\n'));
      await store.insert("items", []);
      await store.insert("items", "");
      const rows = await store.query("SELECT id, name, tags, toString(at) AS at FROM items ORDER BY id");
      expect(rows).toEqual([
        { id: 1, name: "obj", tags: ["a"], at: "2026-01-01 00:00:00.001" },
        { id: 2, name: "str", tags: [], at: "2026-01-01 00:00:00.002" },
        { id: 3, name: "buf", tags: ["b", "c"], at: "2026-01-01 00:00:00.003" },
      ]);
    });

    it("inserts a TabSeparatedWithNames payload by column name, escapes and NULLs included", async () => {
      await store.command(
        "CREATE TABLE IF NOT EXISTS tsv_items (id UInt32, name String, note Nullable(String)) ENGINE = MergeTree ORDER BY id",
      );
      await store.insert("tsv_items", "note\tid\tname\n\\N\t1\ta\\tb\nx\t2\tc\\\\d\\ne\n", { format: "TabSeparatedWithNames" });
      await store.insert("tsv_items", Buffer.from("id\tname\tnote\n3\tf\tg\n"), { format: "TabSeparatedWithNames" });
      expect(await store.query("SELECT id, name, note FROM tsv_items ORDER BY id")).toEqual([
        { id: 1, name: "a\tb", note: null },
        { id: 2, name: "c\\d\ne", note: "x" },
        { id: 3, name: "f", note: "g" },
      ]);
    });

    it("lands a block inserted three times with one token once, in raw and in every rollup", async () => {
      const org = `org-${randomUUID()}`;
      const rows = Array.from({ length: 5 }, (_, i) => usageRow(org, i));
      const settings = { insert_deduplication_token: `conf-${org}`, deduplicate_blocks_in_dependent_materialized_views: 1 };
      for (let i = 0; i < 3; i++) await store.insert("llm_usage", rows, { settings });
      expect(await counts(store, org)).toEqual({ raw: 5, daily: 5, hourly: 5, model_hourly: 5, tokens: 5 * 150 });
      // A different token is a different block: proves the check above can fail.
      await store.insert("llm_usage", rows, { settings: { ...settings, insert_deduplication_token: `conf2-${org}` } });
      expect(await counts(store, org)).toEqual({ raw: 10, daily: 10, hourly: 10, model_hourly: 10, tokens: 10 * 150 });
    });

    it("applies per-statement settings to queries and commands", async () => {
      const rows = await store.query(
        "SELECT getSetting('max_block_size') AS v, toDateTime64('2026-01-01 00:00:00', 3, 'UTC') AS t",
        {},
        {
          settings: { max_block_size: 1234, date_time_output_format: "iso" },
        },
      );
      expect(rows).toEqual([{ v: 1234, t: "2026-01-01T00:00:00.000Z" }]);
      const commented = await store.query(
        "SELECT getSetting('max_block_size') AS v -- a trailing comment",
        {},
        { settings: { max_block_size: 77 } },
      );
      expect(commented).toEqual([{ v: 77 }]);
      await store.command(
        "INSERT INTO items SELECT 100 + number, 'cmd', [], now64(3) FROM numbers(3)",
        {},
        { settings: { max_block_size: 1 } },
      );
      expect(await store.query("SELECT count() AS n FROM items WHERE name = {n:String}", { n: "cmd" })).toEqual([{ n: 3 }]);
    });

    it("returns 64-bit integers as JSON numbers", async () => {
      const [row] = await store.query<Record<string, unknown>>(
        "SELECT toUInt64(9007199254740991) AS u, toInt64(-5) AS i, count() AS c, sum(number) AS s, toUInt32(7) AS u32 FROM numbers(10)",
      );
      expect(row).toEqual({ u: 9007199254740991, i: -5, c: 10, s: 45, u32: 7 });
    });

    it("returns an empty array for an empty result", async () => {
      expect(await store.query("SELECT number FROM numbers(10) WHERE number > 100")).toEqual([]);
      expect(await store.query("SELECT count() AS n FROM items WHERE id = {id:UInt32}", { id: 999 })).toEqual([{ n: 0 }]);
    });

    it("times out a slow statement as a retryable StoreError and keeps working", async () => {
      const err = await store.query("SELECT sleep(1)", {}, { timeoutMs: 100 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect(err).toMatchObject({ code: "timeout", retryable: true });
      expect(await store.query("SELECT 1 AS one")).toEqual([{ one: 1 }]);
    });

    it("reports a syntax error as not retryable", async () => {
      for (const run of [() => store.query("SELEC 1"), () => store.command("CREATE TABLE (")]) {
        const err = await run().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        expect(err).toMatchObject({ code: "syntax", retryable: false, clickhouseCode: 62 });
      }
    });

    it("reports an unknown table and a bad parameter as not retryable", async () => {
      const unknown = await store.query("SELECT * FROM no_such_table").catch((e: unknown) => e);
      expect(unknown).toMatchObject({ code: "bad_request", retryable: false, clickhouseCode: 60 });
      const insert = await store.insert("no_such_table", [{ a: 1 }]).catch((e: unknown) => e);
      expect(insert).toMatchObject({ code: "bad_request", retryable: false, clickhouseCode: 60 });
      const badParam = await store.query("SELECT {n:UInt8} AS n", { n: "not a number" }).catch((e: unknown) => e);
      expect(badParam).toMatchObject({ code: "bad_request", retryable: false });
    });

    it("reports a row the engine refuses as a data error, and stores none of that insert", async () => {
      await store.command("CREATE TABLE refused (id UInt32, s String) ENGINE = MergeTree ORDER BY id");
      const rows = `${JSON.stringify({ id: 1, s: "ok" })}\n${JSON.stringify({ id: 2, s: "\ud800" })}\n`;
      const err = await store.insert("refused", rows).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "data", retryable: false, clickhouseCode: 25 });
      expect(isDataError(err)).toBe(true);
      expect(await store.query("SELECT count() AS c FROM refused")).toEqual([{ c: 0 }]);
    });

    it("reports TOO_MANY_PARTS as retryable", async () => {
      await store.command(`CREATE TABLE parts_guard (x UInt32) ENGINE = MergeTree ORDER BY x
        SETTINGS parts_to_throw_insert = 2, parts_to_delay_insert = 100`);
      await store.command("SYSTEM STOP MERGES parts_guard");
      await store.insert("parts_guard", [{ x: 1 }]);
      await store.insert("parts_guard", [{ x: 2 }]);
      const err = await store.insert("parts_guard", [{ x: 3 }]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect(err).toMatchObject({ code: "engine", retryable: true, clickhouseCode: 252 });
    });
  });
}

/** A minimal llm_usage row; omitted columns take their defaults. */
function usageRow(org: string, i: number): Record<string, unknown> {
  return {
    event_id: randomUUID(),
    event_time: `2026-02-0${1 + (i % 3)} 1${i % 10}:00:00.000`,
    org_id: org,
    project_id: "p",
    agent_id: "a",
    user_id: "u",
    provider: "openai",
    model: "gpt-4o",
    input_tokens: 100,
    output_tokens: 50,
    cost_usd: 0.001,
    cost_source: "computed",
    duration_ms: 100 + i,
    status_code: 200,
  };
}

type Counts = { raw: number; daily: number; hourly: number; model_hourly: number; tokens: number };

async function counts(store: Store, org: string): Promise<Counts> {
  const [row] = await store.query<Counts>(
    `SELECT
       (SELECT count() FROM llm_usage WHERE org_id = {org:String}) AS raw,
       (SELECT sum(requests) FROM llm_usage_daily WHERE org_id = {org:String}) AS daily,
       (SELECT sum(requests) FROM llm_usage_hourly WHERE org_id = {org:String}) AS hourly,
       (SELECT sum(requests) FROM llm_usage_model_hourly WHERE org_id = {org:String}) AS model_hourly,
       (SELECT sum(input_tokens + output_tokens) FROM llm_usage_daily WHERE org_id = {org:String}) AS tokens`,
    { org },
  );
  return row ?? { raw: -1, daily: -1, hourly: -1, model_hourly: -1, tokens: -1 };
}
