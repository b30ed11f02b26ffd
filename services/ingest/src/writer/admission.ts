/**
 * FIFO admission into the writer's buffer: a write waits for room in turn, so
 * a large write waiting for room is not starved by small ones, and whatever
 * waits for `settled()` sees every write admitted before the call.
 */
export interface Admission {
  /** Waits (in turn) until `hasRoom()` holds, then runs `enter` in the same turn. */
  admit(hasRoom: () => boolean, enter: () => void): Promise<void>;
  /** Room was freed: let the waiting writes look again. */
  freed(): void;
  /** Writes are waiting for room (the buffer is full: flush by bytes). */
  waiting(): boolean;
  /** Resolves once every admission started so far has ended. */
  settled(): Promise<void>;
}

/** `onWait` runs each time a write starts waiting for room (the writer flushes then). */
export function createAdmission(onWait: () => void): Admission {
  let chain: Promise<void> = Promise.resolve();
  let waiters: Array<() => void> = [];
  return {
    async admit(hasRoom, enter) {
      const turn = chain.then(async () => {
        while (!hasRoom()) {
          await new Promise<void>((r) => {
            waiters.push(r);
            onWait();
          });
        }
        enter();
      });
      chain = turn.catch(() => {});
      await turn;
    },
    freed() {
      const ready = waiters;
      waiters = [];
      for (const w of ready) w();
    },
    waiting: () => waiters.length > 0,
    settled: () => chain,
  };
}
