/**
 * HTTP ingest over a real socket (issue #14, items 2 and 6): what a pooled
 * client sees after an over-limit chunked body, and what the log says when a
 * client hangs up mid-body.
 */

import { Agent, request } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { serve } from "@hono/node-server";
import { issueToken } from "@tokenmeter/http";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createIngestRoutes, HTTP_INGEST_LIMITS } from "../services/ingest/src/http/routes.js";
import type { EventSink } from "../services/ingest/src/sink.js";

const secret = "e".repeat(32);
const logLines: Array<Record<string, unknown>> = [];
const logger = pino({ level: "debug" }, { write: (line: string) => void logLines.push(JSON.parse(line)) });
const sink: EventSink = { write: async (events) => ({ accepted: events.length, duplicates: 0 }) };
let server: ReturnType<typeof serve>;
let port = 0;
let token = "";

beforeAll(async () => {
  token = await issueToken(secret, "edges");
  const app = createIngestRoutes({ sink, auth: { jwtSecret: secret }, logger });
  server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((r) => server.once("listening", () => r()));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

const validEvent = () =>
  JSON.stringify([
    {
      event_id: crypto.randomUUID(),
      event_time: new Date(Date.now() - 1_000).toISOString(),
      provider: "openai",
      model: "gpt-4o",
      input_tokens: 1,
      output_tokens: 1,
      status_code: 200,
    },
  ]);

/** One POST through `agent`; a chunked body of `chunks` × 64 KiB when given, bounded by a 10 s timeout. */
function post(agent: Agent, body: string | { chunks: number }) {
  return new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const req = request({ host: "127.0.0.1", port, path: "/v1/events", method: "POST", agent, headers, timeout: 10_000 }, (res) => {
      let text = "";
      res.on("data", (d) => {
        text += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text }));
    });
    let answered = false;
    req.on("response", () => {
      answered = true;
    });
    req.on("timeout", () => req.destroy(new Error("no answer in 10 s")));
    // Writes after the server answered and closed may fail: that is the server's right once it said so.
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    if (typeof body === "string") {
      req.end(body);
      return;
    }
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < body.chunks && !answered && !req.destroyed) {
        sent++;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (!answered && !req.destroyed) req.end();
    };
    req.write("[");
    pump();
  });
}

it("answers an over-limit chunked body with 413 and Connection: close; the pooled client's next request is served", async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const chunks = Math.ceil((HTTP_INGEST_LIMITS.maxBytes * 1.3) / (64 * 1024));
    const big = await post(agent, { chunks });
    expect(big.status).toBe(413);
    expect(big.connection).toBe("close");
    expect(JSON.parse(big.body).error.code).toBe("payload_too_large");
    // The same pool: before the fix this request waited on the dead socket until the timeout.
    const next = await post(agent, validEvent());
    expect(next.status).toBe(200);
    expect(JSON.parse(next.body)).toMatchObject({ accepted: 1 });
  } finally {
    agent.destroy();
  }
});

it("closes after a 413 for a Content-Length over the limit too", async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const res = await new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/v1/events",
          method: "POST",
          agent,
          headers: { authorization: `Bearer ${token}`, "content-length": String(HTTP_INGEST_LIMITS.maxBytes + 1) },
        },
        (r) => {
          r.resume();
          r.on("end", () => resolve({ status: r.statusCode ?? 0, connection: r.headers.connection }));
        },
      );
      req.on("error", reject);
      req.write("[");
    });
    expect(res).toEqual({ status: 413, connection: "close" });
    expect((await post(agent, validEvent())).status).toBe(200);
  } finally {
    agent.destroy();
  }
});

it("logs a client that hangs up mid-body as one info line, with no error and no stack", async () => {
  const before = logLines.length;
  // Hang up only once the server has the request (headers parsed), or there is nothing to log yet.
  const received = new Promise<void>((r) => server.once("request", () => r()));
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((r) => socket.once("connect", () => r()));
  socket.write(
    `POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[{"event_id":`,
  );
  await received;
  await new Promise((r) => setTimeout(r, 50));
  socket.destroy();
  const deadline = Date.now() + 5_000;
  while (!logLines.slice(before).some((l) => l.msg === "client closed the connection mid-body") && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const lines = logLines.slice(before);
  expect(lines.filter((l) => l.msg === "client closed the connection mid-body").map((l) => l.level)).toEqual([30]);
  expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
  expect(JSON.stringify(lines)).not.toMatch(/"stack"/);
});
