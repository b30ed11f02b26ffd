/**
 * Where a JSON text first goes wrong: V8's JSON.parse names a position for
 * some errors only ("Unexpected token 'o', ... is not valid JSON" has none),
 * so a malformed request body is rescanned here to tell the client the line
 * and column. Iterative (explicit stack) so deeply nested input cannot blow
 * the call stack; only runs after JSON.parse has failed.
 */
export function jsonErrorPosition(text: string): { position: number; line: number; column: number } {
  const position = firstErrorOffset(text);
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  return { position, line, column: position - before.lastIndexOf("\n") };
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERALS = ["true", "false", "null"];

/** What may come next at the scan position. */
type Expect = "value" | "first_value" | "key" | "first_key" | "after";

/** Offset of the first character that breaks JSON (text.length for a truncated text, -1 if valid). */
function firstErrorOffset(s: string): number {
  const stack: Array<"{" | "["> = [];
  let expect: Expect = "value";
  let i = 0;
  /** Scans one string at i; false with i at the offending character. */
  const string = (): boolean => {
    if (s[i] !== '"') return false;
    for (i++; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        i++;
        if (s[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 1, i + 5))) return false;
          i += 4;
        } else if (!'"\\/bfnrt'.includes(s[i] ?? "x")) return false;
      }
    }
    return false;
  };
  const scalar = (): boolean => {
    if (s[i] === '"') return string();
    NUMBER.lastIndex = i;
    if (NUMBER.test(s)) {
      i = NUMBER.lastIndex;
      return true;
    }
    const lit = LITERALS.find((l) => s.startsWith(l, i));
    if (lit) i += lit.length;
    return lit !== undefined;
  };

  for (;;) {
    while (i < s.length && " \t\n\r".includes(s[i] as string)) i++;
    if (i >= s.length) return expect === "after" && stack.length === 0 ? -1 : s.length;
    const c = s[i];
    const top = stack[stack.length - 1];
    const close = top === "{" ? "}" : "]";
    if ((expect === "first_key" || expect === "first_value") && c === close) {
      stack.pop();
      i++;
      expect = "after";
    } else if (expect === "first_key" || expect === "key") {
      if (!string()) return i;
      while (i < s.length && " \t\n\r".includes(s[i] as string)) i++;
      if (s[i] !== ":") return i;
      i++;
      expect = "value";
    } else if (expect === "first_value" || expect === "value") {
      if (c === "{" || c === "[") {
        stack.push(c);
        i++;
        expect = c === "{" ? "first_key" : "first_value";
      } else {
        if (!scalar()) return i;
        expect = "after";
      }
    } else {
      // After a value: a separator, the end of the container, or the end of the text.
      if (top === undefined) return i;
      if (c === ",") expect = top === "{" ? "key" : "value";
      else if (c === close) stack.pop();
      else return i;
      i++;
    }
  }
}
