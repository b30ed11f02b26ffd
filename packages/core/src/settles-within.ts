/**
 * Waits for `work` at most `ms`: true when it resolved in time, false when the
 * bound passed first (the work is left running); a rejection in time is
 * rethrown. For shutdown steps that can wait without end on a peer — a BullMQ
 * worker whose blocking Redis connection is still reconnecting after an
 * outage never finishes close() — so a process can still stop.
 */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true as const), bound]);
  } finally {
    clearTimeout(timer);
  }
}
