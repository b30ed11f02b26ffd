// A module of its own: the staging worker (stage-slice.ts) needs it without plan-insert's store imports
// (chDB loaded into a worker thread crashes that thread's exit).

/** `source` column of a row read from Kafka: where exactly it came from. */
export function kafkaSource(topic: string, partition: number, offset: string): string {
  return `kafka:${topic}:${partition}:${offset}`;
}
