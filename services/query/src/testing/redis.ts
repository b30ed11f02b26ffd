import { Redis } from "ioredis";

/** Deletes a test's BullMQ queues (`bull:<prefix>*`), so no schedule outlives the test on a shared Redis. */
export async function dropQueues(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `bull:${prefix}*`, "COUNT", 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}
