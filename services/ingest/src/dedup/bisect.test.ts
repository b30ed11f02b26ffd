import { StoreError, storeErrorFromCode } from "@tokenmeter/clickhouse";
import { describe, expect, it } from "vitest";
import { engineReason, insertLinesSplitting, insertSplitting, MAX_SPLIT_INSERTS, payloadLines, TooManyRefusedError } from "./bisect.js";

/**
 * A fake engine at the insert call: refuses a range holding a bad row (as the
 * engine does, storing nothing), deduplicates by token like
 * insert_deduplication_token, and can "crash" after a number of inserts.
 */
function fakeEngine(bad: ReadonlySet<number>) {
  const tokens = new Set<string>();
  const stored: number[] = [];
  let inserts = 0;
  let crashAfter = Number.POSITIVE_INFINITY;
  return {
    stored,
    tokens,
    crashAfter(n: number) {
      crashAfter = inserts + n;
    },
    restart() {
      crashAfter = Number.POSITIVE_INFINITY;
    },
    async insert(lo: number, hi: number, token: string) {
      if (inserts >= crashAfter) throw new StoreError("unavailable", "process killed (simulated)", true);
      inserts++;
      for (let i = lo; i < hi; i++) {
        if (bad.has(i)) throw storeErrorFromCode(25, `Code: 25. DB::Exception: bad row ${i}: (at row ${i - lo + 1})\n: While executing`);
      }
      if (tokens.has(token)) return;
      tokens.add(token);
      for (let i = lo; i < hi; i++) stored.push(i);
    },
  };
}

describe("insertSplitting", () => {
  it("stores every good row once and refuses exactly the bad ones, with the engine's reason", async () => {
    const engine = fakeEngine(new Set([7, 63, 64]));
    const refused = await insertSplitting(100, "tm1-abc", engine.insert);
    expect(refused.map((r) => r.index)).toEqual([7, 63, 64]);
    expect(refused[0]!.reason).toBe("Code: 25. DB::Exception: bad row 7: (at row 1)");
    expect([...engine.stored].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 100 }, (_, i) => i).filter((i) => ![7, 63, 64].includes(i)),
    );
  });

  it("inserts a clean batch once under its own token", async () => {
    const engine = fakeEngine(new Set());
    expect(await insertSplitting(10, "t", engine.insert)).toEqual([]);
    expect([...engine.tokens]).toEqual(["t"]);
  });

  it("holds exactly-once when the process dies mid-split and the batch is redone from the start", async () => {
    for (let cut = 1; cut <= 12; cut++) {
      const engine = fakeEngine(new Set([3, 41]));
      engine.crashAfter(cut);
      await expect(insertSplitting(50, "tok", engine.insert)).rejects.toThrow(/simulated/);
      // The redo (journal or recorded plan): same rows, same token.
      engine.restart();
      const refused = await insertSplitting(50, "tok", engine.insert);
      expect(refused.map((r) => r.index)).toEqual([3, 41]);
      expect(engine.stored.length).toBe(48);
      expect(new Set(engine.stored).size).toBe(48);
    }
  });

  it("gives up past MAX_SPLIT_INSERTS when the engine refuses row after row (a bad statement, not bad rows)", async () => {
    const engine = fakeEngine(new Set(Array.from({ length: 1_000 }, (_, i) => i)));
    let calls = 0;
    const counted = (lo: number, hi: number, token: string) => {
      calls++;
      return engine.insert(lo, hi, token);
    };
    await expect(insertSplitting(1_000, "t", counted)).rejects.toBeInstanceOf(TooManyRefusedError);
    expect(calls).toBe(MAX_SPLIT_INSERTS);
    expect(engine.stored).toEqual([]);
  });

  it("throws anything but a data error as it is, splitting nothing", async () => {
    let calls = 0;
    const down = async () => {
      calls++;
      throw storeErrorFromCode(210, "connection refused");
    };
    await expect(insertSplitting(8, "t", down)).rejects.toMatchObject({ code: "unavailable" });
    const table = async () => {
      calls++;
      throw storeErrorFromCode(60, "unknown table");
    };
    await expect(insertSplitting(8, "t", table)).rejects.toMatchObject({ code: "bad_request" });
    expect(calls).toBe(2);
  });
});

describe("insertLinesSplitting", () => {
  it("splits a TSV payload after its header, each part with the header", async () => {
    const payload = Buffer.from("a\tb\n1\tx\n2\tBAD\n3\tz\n");
    const sent: string[] = [];
    const refused = await insertLinesSplitting(payload, "t", 1, async (p, token) => {
      sent.push(`${token}:${p.toString()}`);
      if (p.includes("BAD")) throw storeErrorFromCode(27, "Code: 27. bad");
    });
    expect(refused).toEqual([{ index: 1, reason: "Code: 27. bad" }]);
    expect(sent).toEqual([
      "t:a\tb\n1\tx\n2\tBAD\n3\tz\n",
      "t/0-2:a\tb\n1\tx\n2\tBAD\n",
      "t/0-1:a\tb\n1\tx\n",
      "t/1-2:a\tb\n2\tBAD\n",
      "t/2-3:a\tb\n3\tz\n",
    ]);
  });

  it("reads lines with or without a final newline", () => {
    expect(payloadLines(Buffer.from('{"a":1}\n{"a":2}')).lines.map(String)).toEqual(['{"a":1}\n', '{"a":2}']);
    expect(payloadLines(Buffer.from("h\n"), 1).lines).toEqual([]);
  });

  it("keeps the engine's first line, bounded", () => {
    expect(engineReason("Code: 25. x (at row 3)\n: While executing Parallel")).toBe("Code: 25. x (at row 3)");
    expect(engineReason("y".repeat(900)).length).toBe(500);
  });
});
