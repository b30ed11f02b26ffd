import { parentPort } from "node:worker_threads";
import type { Pricer } from "@tokenmeter/core";
import { pricerOf, type SliceJob, stageSlice, type WorkerPrices } from "./stage-slice.js";

/**
 * A staging worker thread (stage-pool.ts): prices with the last table the
 * main thread sent, stages each slice it is given, and sends the lines back
 * by transfer. Messages on one port arrive in order, so a slice sent after a
 * new table is priced with it.
 */
export type ToWorker = { prices: WorkerPrices } | { id: number; job: SliceJob };

if (!parentPort) throw new Error("stage-worker.ts runs as a worker thread");
const port = parentPort;
let pricer: Pricer | null = null;
let serial = -1;
port.on("message", (m: ToWorker) => {
  if ("prices" in m) {
    pricer = pricerOf(m.prices);
    serial = m.prices.serial;
    return;
  }
  if (!pricer) throw new Error("slice before any price table");
  const r = stageSlice(m.job, pricer, serial);
  port.postMessage({ id: m.id, result: r }, [r.lines, r.ranges.buffer, r.timeMs.buffer]);
});
