/**
 * The budget check's load generator in its own process, as an agent runtime
 * would be: POSTs /v1/budgets/check at a fixed arrival rate (open loop: a slow
 * answer does not slow the arrivals) and prints one JSON line, the latency
 * distribution and the failure count, then exits. Run by bench/budgets.ts.
 *
 *   node --import tsx bench/lib/check-load-process.ts --url=URL --token=JWT --rps=500 --duration-ms=20000 --groups=100
 */
import { benchArgs, numberOption } from "./args.js";
import { distribution } from "./stats.js";

const args = benchArgs();
const url = args.options.url;
const token = args.options.token;
if (!url || !token) throw new Error("--url and --token are required");
const rps = numberOption(args, "rps", 500, 500);
const durationMs = numberOption(args, "duration-ms", 20_000, 5_000);
const groups = numberOption(args, "groups", 100, 100);

const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
const check = async (body: unknown) => {
  const res = await fetch(`${url}/v1/budgets/check`, { method: "POST", headers, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  await res.arrayBuffer();
};

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
