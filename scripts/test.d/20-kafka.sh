# Kafka: use TOKENMETER_KAFKA_BROKERS if given (an existing cluster); otherwise
# resolve Apache Kafka from Maven Central and start a single-node KRaft broker
# on free loopback ports (scripts/kafka/start.sh). 20-kafka.stop stops it.
if [ -n "${TOKENMETER_KAFKA_BROKERS:-}" ]; then
  export TOKENMETER_TEST_KAFKA_BROKERS="$TOKENMETER_KAFKA_BROKERS"
  echo "using Kafka at $TOKENMETER_TEST_KAFKA_BROKERS"
else
  TOKENMETER_TEST_KAFKA_BROKERS="$(scripts/kafka/start.sh "$TOKENMETER_TEST_STATE/kafka")"
  export TOKENMETER_TEST_KAFKA_BROKERS
  echo "started Kafka broker on $TOKENMETER_TEST_KAFKA_BROKERS"
fi
# kafkajs warns once per producer about its v2 partitioner change; we key by
# event_id and do not depend on the old partitioner.
export KAFKAJS_NO_PARTITIONER_WARNING=1
