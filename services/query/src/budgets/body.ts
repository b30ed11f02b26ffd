import { ApiError } from "@tokenmeter/http";
import type { Context } from "hono";
import type { z } from "zod";

/** One problem with a request body: where (a dotted path) and why. */
export interface BodyIssue {
  path: string;
  message: string;
}

/** Every zod issue as a path and a message, so a client fixes them all in one round. */
export function bodyIssues(error: z.ZodError): BodyIssue[] {
  return error.issues.map((i) => {
    const path = i.path.map(String).join(".") || "(body)";
    const keys = (i as { keys?: string[] }).keys;
    const message = i.code === "unrecognized_keys" && keys ? `unknown field(s) ${keys.join(", ")}` : i.message;
    return { path, message };
  });
}

/** A 400 listing every problem: `details.issues` has them all, the message joins them. */
export function invalidBody(issues: BodyIssue[]): ApiError {
  return new ApiError("bad_request", issues.map((i) => `${i.path}: ${i.message}`).join("; "), { issues });
}

/** Reads a JSON body and validates it; malformed JSON and schema failures are 400s. */
export async function parseBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  let raw: unknown;
  try {
    const text = await c.req.text();
    raw = text.trim() === "" ? {} : JSON.parse(text);
  } catch (err) {
    throw new ApiError("invalid_json", `request body is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw invalidBody(bodyIssues(parsed.error));
  return parsed.data;
}
