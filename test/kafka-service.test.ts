import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueToken } from "@tokenmeter/http";
import { type IngestServer, loadIngestConfig, loadKafkaIngestConfig, startIngestServer } from "@tokenmeter/ingest";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTopic, deleteTopics, liveEvents, testBrokers, testKafka, uniqueTopic, waitFor } from "./support/kafka.js";

const kafka = testKafka();
const topic = uniqueTopic("svc");
const dataDir = mkdtempSync(join(tmpdir(), "tokenmeter-svc-"));
const secret = "service-test-secret-service-test-secret!";
let service: IngestServer;

beforeAll(async () => {
  await createTopic(kafka, topic, 2);
  await createTopic(kafka, `${topic}.dlq`, 1);
  const env = {
    TOKENMETER_DATA_DIR: dataDir,
    TOKENMETER_INGEST_PORT: "0",
    TOKENMETER_JWT_SECRET: secret,
    TOKENMETER_KAFKA_BROKERS: testBrokers(),
    TOKENMETER_KAFKA_TOPIC: topic,
    TOKENMETER_KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    TOKENMETER_KAFKA_GROUP_ID: `g-${topic}`,
    TOKENMETER_KAFKA_CREATE_TOPICS: "false",
  };
  const base = loadIngestConfig(env);
  const kc = loadKafkaIngestConfig(env);
  if (!base.ok || !kc.ok) throw new Error("test config invalid");
  service = await startIngestServer(base.config, kc.config, pino({ level: "silent" }));
});
afterAll(async () => {
  await service.stop();
  await deleteTopics(kafka, [topic, `${topic}.dlq`]);
  rmSync(dataDir, { recursive: true, force: true });
});

it("serves health, readiness and metrics, and POST /v1/events flows through Kafka into the store", async () => {
  const url = `http://127.0.0.1:${service.port}`;
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  await waitFor("ready (joined the group)", async () => (await fetch(`${url}/readyz`)).status === 200, 30_000);
  const events = liveEvents(50, 61).map((e) => ({ ...e, org_id: "acme" }));
  const res = await fetch(`${url}/v1/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${await issueToken(secret, "acme")}`, "content-type": "application/x-ndjson" },
    body: events.map((e) => JSON.stringify(e)).join("\n"),
  });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ accepted: 50, duplicates: 0, rejected: [] });
  const metric = async (name: string) =>
    Number(new RegExp(`^${name} (\\d+)$`, "m").exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);
  await waitFor("consumed and inserted", async () => (await metric("tokenmeter_kafka_rows_inserted_total")) === 50, 30_000);
  expect(await metric("tokenmeter_kafka_messages_consumed_total")).toBe(50);
  const text = await (await fetch(`${url}/metrics`)).text();
  for (const name of [
    "tokenmeter_kafka_flush_duration_seconds_bucket",
    "tokenmeter_kafka_consumer_lag",
    "tokenmeter_kafka_last_event_time_seconds",
    "tokenmeter_kafka_batch_rows_bucket",
    "tokenmeter_http_ingest_events_total",
  ]) {
    expect(text).toContain(name);
  }
});
