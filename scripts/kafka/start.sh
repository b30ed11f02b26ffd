#!/usr/bin/env bash
# Starts a throwaway single-node Apache Kafka broker (KRaft, broker+controller
# in one JVM) on free loopback ports, for tests and development.
#
#   scripts/kafka/start.sh [STATE_DIR]    prints "127.0.0.1:<port>" when ready
#   scripts/kafka/stop.sh  [STATE_DIR]    stops it (SIGTERM, then SIGKILL)
#
# STATE_DIR (default .cache/kafka/run) holds the log dir, server.properties,
# broker.log, broker.pid and `brokers` (the bootstrap address). The jars are
# resolved once from Maven Central by pom.xml into .cache/kafka/libs-<version>
# (Maven also keeps them in ~/.m2, so a wiped .cache re-copies offline).
# KAFKA_HEAP (default 768m) sizes the JVM heap.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
state="$(mkdir -p "${1:-$root/.cache/kafka/run}" && cd "${1:-$root/.cache/kafka/run}" && pwd)"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
libs="$root/.cache/kafka/libs-$version"

# 1. Resolve the jars (a minute on first run, instant afterwards).
if [ ! -f "$libs/kafka_2.13-$version.jar" ]; then
  echo "resolving Apache Kafka $version from Maven Central into $libs" >&2
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies >&2
fi

# 2. Refuse to start a second broker on the same state dir.
if [ -f "$state/broker.pid" ] && kill -0 "$(cat "$state/broker.pid")" 2>/dev/null; then
  echo "a broker is already running from $state (pid $(cat "$state/broker.pid"))" >&2
  cat "$state/brokers"
  exit 0
fi

# 3. Two free loopback ports: the client listener and the KRaft controller.
read -r port cport < <(node -e '
  const net = require("node:net");
  const grab = () => new Promise((ok) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)); }); });
  Promise.all([grab(), grab()]).then((p) => console.log(p.join(" ")));')

# 4. Fresh log dir and config; every test run starts from an empty broker.
rm -rf "$state/data"
mkdir -p "$state/data"
cat > "$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$state/data
num.partitions=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
# Tests use small session timeouts to make rebalances quick.
group.min.session.timeout.ms=3000
message.max.bytes=2097152
log.retention.hours=24
log.segment.bytes=67108864
PROPS
cat > "$state/log4j2.properties" <<'PROPS'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
PROPS
java_opts=(-Xms256m "-Xmx${KAFKA_HEAP:-768m}" -XX:+UseG1GC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$state/log4j2.properties" -cp "$libs/*")
cluster_id="$(java "${java_opts[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
java "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$state/server.properties" --standalone >/dev/null 2>&1 ||
  java "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$state/server.properties" >/dev/null

# 5. Start detached (setsid: the broker survives the calling shell and gets
#    its own process group, so stop.sh signals exactly it).
: > "$state/broker.log"
setsid java "${java_opts[@]}" kafka.Kafka "$state/server.properties" >>"$state/broker.log" 2>&1 < /dev/null &
echo $! > "$state/broker.pid"

# 6. Ready when the log says so (bounded: 90 s).
for _ in $(seq 1 450); do
  if grep -q "Kafka Server started" "$state/broker.log"; then
    echo "127.0.0.1:$port" > "$state/brokers"
    echo "127.0.0.1:$port"
    exit 0
  fi
  if ! kill -0 "$(cat "$state/broker.pid")" 2>/dev/null; then break; fi
  sleep 0.2
done
echo "Kafka broker did not start; last log lines:" >&2
tail -n 30 "$state/broker.log" >&2
"$here/stop.sh" "$state" >/dev/null 2>&1 || true
exit 1
