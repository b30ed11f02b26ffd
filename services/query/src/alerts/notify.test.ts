import { describe, expect, it } from "vitest";
import { notificationId, retryDelayMs, signatureHeader, verifySignature } from "./notify.js";
import { isPrivateAddress, staticUrlProblem } from "./url-guard.js";

describe("signature", () => {
  it("is t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)> and verifies only with the same secret and body", async () => {
    const { createHmac } = await import("node:crypto");
    const h = signatureHeader("s3cret-key", '{"a":1}', 1_700_000_000);
    expect(h).toBe(`t=1700000000,v1=${createHmac("sha256", "s3cret-key").update('1700000000.{"a":1}').digest("hex")}`);
    expect(verifySignature("s3cret-key", '{"a":1}', h, 1_700_000_010)).toBe(true);
    expect(verifySignature("other-key", '{"a":1}', h, 1_700_000_010)).toBe(false);
    expect(verifySignature("s3cret-key", '{"a":2}', h, 1_700_000_010)).toBe(false);
    expect(verifySignature("s3cret-key", '{"a":1}', h, 1_700_001_000)).toBe(false); // outside the tolerance
  });
});

describe("retry schedule", () => {
  it("first retry within 60 s, second within 120 s, then doubling; 8 attempts span about 2 h", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((n) => retryDelayMs(n, 60_000));
    expect(delays.slice(0, 3)).toEqual([60_000, 120_000, 240_000]);
    const total = delays.reduce((a, b) => a + b, 0);
    expect(total / 3_600_000).toBeGreaterThan(1.9);
    expect(total / 3_600_000).toBeLessThan(2.2);
  });
});

describe("notification ids", () => {
  it("the same dedup key gives the same id; any part changing gives another", () => {
    const a = notificationId(["rule", "u1", 1_000, 80]);
    expect(notificationId(["rule", "u1", 1_000, 80])).toBe(a);
    expect(notificationId(["rule", "u1", 1_000, 100])).not.toBe(a);
    expect(notificationId(["rule", "u2", 1_000, 80])).not.toBe(a);
    expect(notificationId(["rule", "u1", 2_000, 80])).not.toBe(a);
  });
});

describe("URL guard", () => {
  it("refuses loopback, private, link-local and unique-local addresses unless allowed", () => {
    for (const ip of [
      "127.0.0.1",
      "10.1.2.3",
      "172.20.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "::1",
      "fd00::1",
      "::ffff:10.0.0.1",
      "0.0.0.0",
    ])
      expect(isPrivateAddress(ip), ip).toBe(true);
    for (const ip of ["8.8.8.8", "2606:4700::1111", "172.32.0.1"]) expect(isPrivateAddress(ip), ip).toBe(false);
    expect(staticUrlProblem("http://127.0.0.1:9/x", false)).toMatch(/private/);
    expect(staticUrlProblem("http://localhost/x", false)).toMatch(/private/);
    expect(staticUrlProblem("http://[::1]/x", false)).toMatch(/private/);
    expect(staticUrlProblem("http://127.0.0.1:9/x", true)).toBeNull();
    expect(staticUrlProblem("ftp://example.com/x", true)).toMatch(/http/);
    expect(staticUrlProblem("not a url", true)).toMatch(/URL/);
    expect(staticUrlProblem("https://hooks.example.com/x", false)).toBeNull();
  });
});
