#!/usr/bin/env bash
# Starts 3 chat nodes on 127.0.0.1:50051-50053 against local Redis (or Redis
# Cluster, CHAT_REDIS_MODE=cluster) and Cassandra (started by `make infra`).
# Ctrl-C stops them all. With CHAT_DISCOVERY=zookeeper they find each other
# through the ZooKeeper ensemble of test/infra/zookeeper.sh (CHAT_ZK_CONNECT
# defaults to its three servers).
set -euo pipefail
cd "$(dirname "$0")/.."
export CHAT_STORE=scylla
# CHAT_REDIS_MODE=cluster: the Redis Cluster of test/infra/redis-cluster.sh unless CHAT_REDIS_URL names another.
if [ "${CHAT_REDIS_MODE:-single}" = cluster ]; then
  export CHAT_REDIS_URL="${CHAT_REDIS_URL:-redis://127.0.0.1:7101,redis://127.0.0.1:7102,redis://127.0.0.1:7103}"
fi
export CHAT_JWT_SECRET="${CHAT_JWT_SECRET:-local-cluster-secret-change-me-0123456789}"
if [[ "${CHAT_DISCOVERY:-}" == zookeeper ]]; then
  export CHAT_ZK_CONNECT="${CHAT_ZK_CONNECT:-127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183}"
fi
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' INT TERM EXIT
for i in 1 2 3; do
  CHAT_NODE_ID="node-$i" CHAT_PORT="$((50050 + i))" CHAT_METRICS_PORT="$((9463 + i))" CHAT_WEB_PORT="$((8079 + i))" node dist/src/app/main.js &
  pids+=("$!")
done
wait
