#!/usr/bin/env bash
# Ensures a Redis answers PING on 127.0.0.1:6379 for the Redis contract and
# cluster tests. Reuses a running one; otherwise starts a throwaway daemon with
# persistence off (tests must never depend on data surviving a restart).
# Stop it: redis-cli -h 127.0.0.1 -p 6379 shutdown nosave
set -euo pipefail

HOST=127.0.0.1
PORT=6379
ping() { redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null | grep -q PONG; }

if ping; then
  echo "redis.sh: reusing the Redis already answering on $HOST:$PORT"
  exit 0
fi
if ! command -v redis-server >/dev/null; then
  echo "redis.sh: redis-server is not installed (Debian: apt-get install redis-server)" >&2
  exit 1
fi
# "-::1": IPv6 loopback where the host has one (the leading '-' makes it optional).
redis-server --daemonize yes --bind "$HOST" -::1 --port "$PORT" --save "" --appendonly no \
  --logfile "${TMPDIR:-/tmp}/grpc-chat-redis.log" >/dev/null
for _ in $(seq 1 100); do
  if ping; then
    echo "redis.sh: started Redis on $HOST:$PORT"
    exit 0
  fi
  sleep 0.1
done
echo "redis.sh: Redis did not answer PING within 10 s; last lines of its log:" >&2
tail -n 20 "${TMPDIR:-/tmp}/grpc-chat-redis.log" >&2 || true
exit 1
