# Redis: use the one answering on TOKENMETER_TEST_REDIS_URL (default
# 127.0.0.1:6379); otherwise install (Debian) and start a throwaway one.
export TOKENMETER_TEST_REDIS_URL="${TOKENMETER_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  if ! command -v redis-server >/dev/null; then
    echo "installing redis-server"; (apt-get update -qq && apt-get install -y -qq redis-server) >/dev/null
  fi
  redis-server --daemonize yes --port 6379 --bind 127.0.0.1 --save "" --appendonly no \
    --pidfile "$TOKENMETER_TEST_STATE/redis.pid" --logfile "$TOKENMETER_TEST_STATE/redis.log"
  for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 0.1; done
  echo "started redis-server on 127.0.0.1:6379"
fi
