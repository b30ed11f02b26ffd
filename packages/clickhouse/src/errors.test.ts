import { describe, expect, it } from "vitest";
import { CH, isDataError, parseExceptionCode, storeErrorFromCode } from "./errors.js";

describe("storeErrorFromCode", () => {
  it.each([
    [CH.SYNTAX_ERROR, "syntax", false],
    [CH.UNKNOWN_TABLE, "bad_request", false],
    [CH.UNKNOWN_DATABASE, "bad_request", false],
    [CH.CANNOT_PARSE_TEXT, "data", false],
    [25, "data", false], // CANNOT_PARSE_ESCAPE_SEQUENCE (a lone surrogate in JSON)
    [53, "data", false], // TYPE_MISMATCH
    [376, "data", false], // CANNOT_PARSE_UUID
    [321, "data", false], // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    [457, "bad_request", false], // BAD_QUERY_PARAMETER
    [CH.AUTHENTICATION_FAILED, "bad_request", false],
    [CH.TIMEOUT_EXCEEDED, "timeout", true],
    [CH.SOCKET_TIMEOUT, "timeout", true],
    [CH.TOO_MANY_SIMULTANEOUS_QUERIES, "unavailable", true],
    [CH.NETWORK_ERROR, "unavailable", true],
    [241, "unavailable", true], // MEMORY_LIMIT_EXCEEDED
    [CH.TOO_MANY_PARTS, "engine", true],
    [1001, "engine", true], // STD_EXCEPTION: unknown, assumed transient
    [undefined, "engine", true],
  ])("code %s → %s, retryable %s", (code, kind, retryable) => {
    const err = storeErrorFromCode(code, "msg");
    expect(err).toMatchObject({ code: kind, retryable, message: "msg" });
    expect(err.clickhouseCode).toBe(code);
  });
});

describe("parseExceptionCode", () => {
  it("reads the leading code of a ClickHouse exception", () => {
    expect(parseExceptionCode("Code: 252. DB::Exception: Too many parts (TOO_MANY_PARTS)")).toBe(252);
    expect(parseExceptionCode("<html>Bad Gateway</html>")).toBeUndefined();
  });
});

describe("isDataError", () => {
  it("is true only for a refused value, never for a statement error or an unavailable store", () => {
    expect(isDataError(storeErrorFromCode(25, "surrogate"))).toBe(true);
    expect(isDataError(storeErrorFromCode(CH.UNKNOWN_TABLE, "no table"))).toBe(false);
    expect(isDataError(storeErrorFromCode(457, "bad parameter"))).toBe(false);
    expect(isDataError(storeErrorFromCode(CH.NETWORK_ERROR, "down"))).toBe(false);
    expect(isDataError(storeErrorFromCode(undefined, "unknown"))).toBe(false);
    expect(isDataError(new Error("Code: 25."))).toBe(false);
  });
});
