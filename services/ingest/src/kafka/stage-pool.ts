import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { PriceFeed, SliceJob, SliceResult } from "./stage-slice.js";
import type { ToWorker } from "./stage-worker.js";

export interface StagePoolOptions {
  /** Worker threads (≥ 1). */
  size: number;
  /** The main thread's prices: sent to a worker before its first slice and again after every change. */
  feed: PriceFeed;
  logger: Logger;
  /** Workers started again after one dies, over the pool's life; past it the pool shrinks (a crash loop must not spin). */
  maxRespawns?: number;
  /** The worker's entry (tests give a faulty one); default stage-worker-boot.mjs. */
  script?: URL;
}

/**
 * Worker threads that stage slices of messages (decode, validate, price,
 * serialize) off the main thread. The pool never fails a slice: when a worker
 * dies with slices in hand, or a result was priced with a table the main
 * thread no longer has, `run` answers null and the caller stages that slice
 * in-thread, from the messages it still holds. Nothing is committed from a
 * worker: what a dead worker held is simply staged again.
 */
export interface StagePool {
  run(job: SliceJob): Promise<SliceResult | null>;
  /** Live workers. */
  size(): number;
  close(): Promise<void>;
}

interface Slot {
  worker: Worker;
  /** The price serial this worker has, -1 before the first table. */
  serial: number;
  waiting: Map<number, (r: SliceResult | null) => void>;
}

export function createStagePool(o: StagePoolOptions): StagePool {
  const script = o.script ?? new URL("./stage-worker-boot.mjs", import.meta.url);
  const log = o.logger.child({ component: "stage-pool" });
  const slots = new Set<Slot>();
  let respawns = o.maxRespawns ?? 4 * o.size;
  let nextId = 0;
  let closed = false;

  function spawn(): void {
    const slot: Slot = { worker: new Worker(script), serial: -1, waiting: new Map() };
    slot.worker.unref();
    slot.worker.on("message", (m: { id: number; result: SliceResult }) => {
      const done = slot.waiting.get(m.id);
      slot.waiting.delete(m.id);
      // Priced with a table swapped out meanwhile: staged again in-thread with the current one.
      done?.(m.result.priceSerial === o.feed.serial() ? m.result : null);
    });
    slot.worker.on("error", (err) => log.error({ op: "stage_worker", err, slices: slot.waiting.size }, "staging worker died"));
    slot.worker.on("exit", (code) => {
      slots.delete(slot);
      for (const done of slot.waiting.values()) done(null);
      slot.waiting.clear();
      if (closed) return;
      log.warn({ op: "stage_worker", code, respawns_left: respawns }, "staging worker exited; its slices are staged in-thread");
      if (respawns > 0) {
        respawns--;
        spawn();
      }
    });
    slots.add(slot);
  }

  for (let i = 0; i < o.size; i++) spawn();
  return {
    run(job) {
      let slot: Slot | undefined;
      for (const s of slots) if (!slot || s.waiting.size < slot.waiting.size) slot = s;
      if (closed || !slot) return Promise.resolve(null);
      const serial = o.feed.serial();
      if (slot.serial !== serial) {
        slot.worker.postMessage({ prices: o.feed.prices() } satisfies ToWorker);
        slot.serial = serial;
      }
      const id = nextId++;
      const target = slot;
      return new Promise((resolve) => {
        target.waiting.set(id, resolve);
        target.worker.postMessage({ id, job } satisfies ToWorker, [job.values, job.bounds.buffer]);
      });
    },
    size: () => slots.size,
    async close() {
      closed = true;
      await Promise.all([...slots].map((s) => s.worker.terminate()));
    },
  };
}
