import { join } from "node:path";
import { type PodSpec, podEnv } from "../../test/support/topology.js";

/** Where a bench's pods find what a cluster would give them: the backing services and the names that keep runs apart. */
export interface PodSite {
  clickhouseUrl: string;
  database: string;
  brokers: string;
  topic: string;
  group: string;
  partitions: number;
  /** Each pod's TOKENMETER_DATA_DIR is `<dataRoot>/<pod name>`. */
  dataRoot: string;
  secrets: Record<string, string>;
}

/**
 * A pod's env as the kubelet builds it from the rendered overlay, with only
 * what differs on one machine overridden (addresses, names, the port), plus
 * `extra` settings a bench tries against the manifest's.
 */
export function benchPodEnv(
  spec: PodSpec,
  pod: string,
  port: number,
  site: PodSite,
  extra: Record<string, string> = {},
): Record<string, string> {
  return podEnv(spec, {
    podName: pod,
    secrets: site.secrets,
    overrides: {
      TOKENMETER_CLICKHOUSE_URL: site.clickhouseUrl,
      TOKENMETER_CLICKHOUSE_DATABASE: site.database,
      TOKENMETER_KAFKA_BROKERS: site.brokers,
      TOKENMETER_KAFKA_TOPIC: site.topic,
      TOKENMETER_KAFKA_DLQ_TOPIC: `${site.topic}.dlq`,
      TOKENMETER_KAFKA_GROUP_ID: site.group,
      TOKENMETER_KAFKA_PARTITIONS: String(site.partitions),
      TOKENMETER_REDIS_URL: "",
      TOKENMETER_DATA_DIR: join(site.dataRoot, pod),
      TOKENMETER_INGEST_PORT: String(port),
      ...extra,
    },
  });
}
