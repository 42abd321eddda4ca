#!/usr/bin/env bash
# Ensures a Redis Cluster answers on 127.0.0.1:7101-7106 (3 masters, 3
# replicas) for the cluster contract suite, the scylla-cluster end-to-end pass
# and the failover test. Reuses one that reports cluster_state:ok with 6
# nodes; otherwise starts the missing redis-server processes (cluster mode,
# persistence off, a small cluster-node-timeout so a failover takes ~1-2 s)
# and creates the cluster. Nothing is downloaded.
# Usage: redis-cluster.sh [first-port]   (default 7101; the test's own cluster uses 7111)
# Stop it: for p in $(seq 7101 7106); do redis-cli -p $p shutdown nosave; done
set -euo pipefail

HOST=127.0.0.1
FIRST=${1:-7101}
PORTS=$(seq "$FIRST" $((FIRST + 5)))
DIR="${TMPDIR:-/tmp}/grpc-chat-redis-cluster-$FIRST"
cli() { redis-cli -h "$HOST" -p "$1" "${@:2}" 2>/dev/null; }
healthy() {
  local info
  info=$(cli "$FIRST" cluster info) || return 1
  grep -q 'cluster_state:ok' <<<"$info" && grep -q 'cluster_known_nodes:6' <<<"$info" && grep -q 'cluster_size:3' <<<"$info"
}

if healthy; then
  echo "redis-cluster.sh: reusing the Redis Cluster already up on $HOST:$FIRST-$((FIRST + 5))"
  exit 0
fi
command -v redis-server >/dev/null || { echo "redis-cluster.sh: redis-server is not installed" >&2; exit 1; }
mkdir -p "$DIR"
for p in $PORTS; do
  if cli "$p" ping | grep -q PONG; then
    # A node from an earlier, broken attempt: start it over empty.
    cli "$p" shutdown nosave >/dev/null || true
    sleep 0.2
  fi
  rm -f "$DIR/nodes-$p.conf"
  redis-server --daemonize yes --bind "$HOST" --port "$p" --cluster-enabled yes \
    --cluster-config-file "$DIR/nodes-$p.conf" --cluster-node-timeout 1000 \
    --cluster-replica-validity-factor 0 --repl-diskless-sync-delay 0 \
    --save "" --appendonly no --dir "$DIR" --logfile "$DIR/redis-$p.log" >/dev/null
done
for p in $PORTS; do
  for _ in $(seq 1 100); do cli "$p" ping | grep -q PONG && break; sleep 0.1; done
done
nodes=$(for p in $PORTS; do printf '%s:%s ' "$HOST" "$p"; done)
# shellcheck disable=SC2086
redis-cli --cluster create $nodes --cluster-replicas 1 --cluster-yes >"$DIR/create.log" 2>&1 || {
  echo "redis-cluster.sh: cluster create failed:" >&2
  tail -n 20 "$DIR/create.log" >&2
  exit 1
}
for _ in $(seq 1 100); do
  if healthy; then
    echo "redis-cluster.sh: started a Redis Cluster on $HOST:$FIRST-$((FIRST + 5))"
    exit 0
  fi
  sleep 0.1
done
echo "redis-cluster.sh: the cluster did not reach cluster_state:ok within 10 s" >&2
exit 1
