#!/usr/bin/env bash
# Stops the broker started by start.sh from STATE_DIR (default .cache/kafka/run):
# SIGTERM for a clean shutdown, SIGKILL if it is still there after 30 s.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${1:-$here/../../.cache/kafka/run}"
pidfile="$state/broker.pid"
[ -f "$pidfile" ] || exit 0
pid="$(cat "$pidfile")"
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; echo "broker $pid killed after 30 s" >&2; fi
fi
rm -f "$pidfile" "$state/brokers"
