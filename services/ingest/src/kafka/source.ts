/** `source` column of a row read from Kafka: where exactly it came from. */
export function kafkaSource(topic: string, partition: number, offset: string): string {
  return `kafka:${topic}:${partition}:${offset}`;
}
