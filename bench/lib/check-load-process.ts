/**
 * The budget check's load generator in its own process, as an agent runtime
 * would be: POSTs /v1/budgets/check at a fixed arrival rate (open loop: a slow
 * answer does not slow the arrivals) and prints one JSON line, the latency
 * distribution and the failure count, then exits. Run by bench/budgets.ts.
 *
 *   node --import tsx bench/lib/check-load-process.ts --url=URL --token=JWT --rps=500 --duration-ms=20000 --groups=100 [--client=http|fetch]
 */
import { Agent, request } from "node:http";
import { benchArgs, numberOption } from "./args.js";
import { distribution } from "./stats.js";

const args = benchArgs();
const url = args.options.url;
const token = args.options.token;
if (!url || !token) throw new Error("--url and --token are required");
const rps = numberOption(args, "rps", 500, 500);
const durationMs = numberOption(args, "duration-ms", 20_000, 5_000);
const groups = numberOption(args, "groups", 100, 100);

/**
 * `--client=http` (default): node:http with a keep-alive agent, the lightest
 * client Node has, so the figure is the service's. `--client=fetch`: undici's
 * fetch, as many runtimes call; it adds its own tail (docs/benchmarks.md §13).
 */
const client = args.options.client ?? "http";
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const target = new URL(`${url}/v1/budgets/check`);
const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
const viaHttp = (data: string) =>
  new Promise<void>((resolve, reject) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { ...headers, "content-length": Buffer.byteLength(data) },
      },
      (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      },
    );
    req.on("error", reject);
    req.end(data);
  });
const viaFetch = async (data: string) => {
  const res = await fetch(target, { method: "POST", headers, body: data });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  await res.arrayBuffer();
};
if (client !== "http" && client !== "fetch") throw new Error(`--client must be http or fetch, got ${client}`);
const check = (body: unknown) => (client === "http" ? viaHttp : viaFetch)(JSON.stringify(body));

// Warm the connection pool and the JIT on both sides before measuring.
for (let i = 0; i < 200; i++) await check({ user_id: `u${i % groups}`, estimate: 0.001 });

const lat: number[] = [];
let failed = 0;
const inflight: Promise<void>[] = [];
const start = performance.now();
const total = Math.floor((rps * durationMs) / 1000);
for (let i = 0; i < total; i++) {
  const due = start + (i * 1000) / rps;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  inflight.push(
    (async () => {
      const t = performance.now();
      try {
        await check({ user_id: `u${i % groups}`, estimate: 0.001 });
        lat.push(performance.now() - t);
      } catch {
        failed++;
      }
    })(),
  );
}
await Promise.all(inflight);
process.stdout.write(`${JSON.stringify({ ...distribution(lat), failed })}\n`);
process.exit(0);
