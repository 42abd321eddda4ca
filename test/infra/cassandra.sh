#!/usr/bin/env bash
# Ensures one Apache Cassandra 5.0 node answers CQL on 127.0.0.1:9042, for the
# CQL contract tests (ScyllaDB speaks the same protocol and has no package
# here). Reuses a node that already answers; otherwise fetches the server jars
# from Maven Central once (test/infra/cassandra/pom.xml, cached under
# $CHAT_INFRA_CACHE, default ~/.cache/grpc-chat), writes a minimal single-node
# cassandra.yaml and starts CassandraDaemon in the background.
#
# Environment:
#   CHAT_INFRA_CACHE        jar cache root          (~/.cache/grpc-chat)
#   CHAT_CASSANDRA_DIR      node data, config, logs (/tmp/grpc-chat-cassandra)
#   CHAT_CASSANDRA_PORT     CQL port                (9042)
#   CHAT_CASSANDRA_HEAP     -Xms/-Xmx               (2G)
#   CHAT_CASSANDRA_MEMTABLE_HEAP     memtable_heap_space       (128MiB: small, for tests)
#   CHAT_CASSANDRA_MEMTABLE_OFFHEAP  memtable_offheap_space    (128MiB)
#   CHAT_CASSANDRA_MEMTABLE_ALLOCATION memtable_allocation_type (heap_buffers, Cassandra's default)
#   CHAT_CASSANDRA_COMMITLOG_SEGMENT commitlog_segment_size    (8MiB)
#                           `make bench` / `make bench-quick` size the node like a small
#                           production one (see the Makefile and bench/README.md)
#   CHAT_CASSANDRA_JAVA     java binary             (JDK 17 if installed, else $JAVA_HOME/bin/java, else java)
#   CHAT_CASSANDRA_TIMEOUT  seconds to wait for CQL (180)
#   CHAT_CASSANDRA_JMX_PORT local JMX port for nodetool; unset = no JMX listener
#   CHAT_CASSANDRA_STORAGE_PORT inter-node port   (7000, or a free one if taken)
#   CHAT_CASSANDRA_COMMITLOG_SYNC periodic (default: writes are acknowledged before the
#                           commit log is synced, every 10 s; a killed lone node can lose
#                           up to that much) or group (acknowledged after an fsync, grouped
#                           every 5 ms: what a lone node needs to survive SIGKILL)
#   CHAT_CASSANDRA_KEEP_DATA 1: start on the data left by the previous node in this
#                           directory (a restart); default: wipe it first
# Stop the node: kill "$(cat /tmp/grpc-chat-cassandra/cassandra.pid)" (data is wiped at the next start).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
POM="$HERE/cassandra/pom.xml"
HOST=127.0.0.1
PORT="${CHAT_CASSANDRA_PORT:-9042}"
CACHE="${CHAT_INFRA_CACHE:-${HOME:-/tmp}/.cache/grpc-chat}"
LIB="$CACHE/cassandra-lib"
RUN="${CHAT_CASSANDRA_DIR:-/tmp/grpc-chat-cassandra}"
HEAP="${CHAT_CASSANDRA_HEAP:-2G}"
MEMTABLE_HEAP="${CHAT_CASSANDRA_MEMTABLE_HEAP:-128MiB}"
MEMTABLE_OFFHEAP="${CHAT_CASSANDRA_MEMTABLE_OFFHEAP:-128MiB}"
MEMTABLE_ALLOCATION="${CHAT_CASSANDRA_MEMTABLE_ALLOCATION:-heap_buffers}"
COMMITLOG_SEGMENT="${CHAT_CASSANDRA_COMMITLOG_SEGMENT:-8MiB}"
TIMEOUT="${CHAT_CASSANDRA_TIMEOUT:-180}"
PIDFILE="$RUN/cassandra.pid"
READY=(node "$HERE/cql-ready.mjs" --host "$HOST" --port "$PORT")

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
log() { echo "cassandra.sh: $*"; }

# The node we started earlier, if it is still alive (guards against pid reuse).
running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'org.apache.cassandra.service.CassandraDaemon' || return 1
  echo "$pid"
}

print_logs() {
  # The classpath and JVM argument lines are kilobytes long and say nothing here.
  grep -v -e 'Classpath:' -e 'JVM Arguments:' "$RUN/logs/system.log" 2>/dev/null | tail -n 40 >&2 || true
  tail -n 20 "$RUN/logs/stdout.log" >&2 2>/dev/null || true
}

# 0 when CQL answers; 2 when the process exited first; 1 on timeout (logs printed for 1 and 2).
wait_ready() { # pid started_at
  local pid="$1" t0="$2" rc=0
  "${READY[@]}" --timeout-s "$TIMEOUT" --pid "$pid" || rc=$?
  if [[ $rc -eq 0 ]]; then
    log "ready after $(elapsed "$t0") s; pid $pid, RSS $(($(ps -o rss= -p "$pid") / 1024)) MiB; log $RUN/logs/system.log"
    return 0
  fi
  if [[ $rc -eq 2 ]]; then log "Cassandra (pid $pid) exited during start-up; last lines of its logs:" >&2
  else log "Cassandra did not answer CQL within ${TIMEOUT}s; last lines of its logs:" >&2; fi
  print_logs
  return "$rc"
}

# 1. Something already answers CQL: reuse it.
if "${READY[@]}" --timeout-s 0 >/dev/null 2>&1; then
  log "reusing the CQL node already answering on $HOST:$PORT"
  exit 0
fi

mkdir -p "$RUN" "$CACHE"
# One start at a time (two `make test` in parallel must not start two nodes).
# The lock fd is closed for the java child so it does not hold the lock.
exec 9>"$RUN/.lock"
flock 9

# 2. Our node is alive but still starting (or another caller just started it),
# or shutting down: wait for it; if it exits instead, start a fresh one below.
if pid="$(running_pid)"; then
  log "waiting for the node already running (pid $pid)"
  rc=0
  "${READY[@]}" --timeout-s "$TIMEOUT" --pid "$pid" || rc=$?
  if [[ $rc -eq 0 ]]; then exit 0; fi
  if [[ $rc -ne 2 ]]; then
    log "Cassandra (pid $pid) runs but did not answer CQL within ${TIMEOUT}s; last lines of its logs:" >&2
    print_logs
    exit 1
  fi
  while kill -0 "$pid" 2>/dev/null; do sleep 0.5; done
  log "that node is gone; starting a new one"
fi
if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
  log "port $PORT on $HOST is taken by something that does not answer CQL; stop it first" >&2
  exit 1
fi

# 3. Jars: resolved once from Maven Central into the cache, keyed by the pom.
VERSION="$(sed -n 's:.*<cassandra.version>\(.*\)</cassandra.version>.*:\1:p' "$POM")"
STAMP="$VERSION $(cksum <"$POM" | cut -d' ' -f1)"
if [[ "$(cat "$LIB/.stamp" 2>/dev/null || true)" != "$STAMP" ]]; then
  log "resolving cassandra-all $VERSION and its dependencies from Maven Central into $LIB"
  t0="$(now)"
  tmp="$(mktemp -d "$CACHE/cassandra-lib.tmp.XXXXXX")"
  if ! mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
    cat "$tmp.log" >&2
    rm -rf "$tmp" "$tmp.log"
    log "maven could not resolve cassandra-all $VERSION" >&2
    exit 1
  fi
  echo "$STAMP" >"$tmp/.stamp"
  rm -rf "$LIB" "$tmp.log"
  mv "$tmp" "$LIB"
  log "resolved $(ls "$LIB" | wc -l) jars in $(elapsed "$t0") s"
fi

# 4. Java: Cassandra 5.0 runs on 11 or 17; the flags below are jvm17-server.options.
JAVA="${CHAT_CASSANDRA_JAVA:-}"
if [[ -z "$JAVA" ]]; then
  if [[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]]; then JAVA=/usr/lib/jvm/java-17-openjdk-amd64/bin/java
  elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"
  else JAVA=java; fi
fi

# 5. A fresh single-node configuration and empty data directories (this
# directory belongs to this script; no node is using it, checked above).
free_port() { # preferred
  if ! (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; then echo "$1"; return; fi
  node -e "const s=require('net').createServer().listen(0,'$HOST',()=>{console.log(s.address().port);s.close()})"
}
if [[ "${CHAT_CASSANDRA_COMMITLOG_SYNC:-periodic}" == group ]]; then
  COMMITLOG_SYNC_YAML=$'commitlog_sync: group\ncommitlog_sync_group_window: 5ms'
else
  COMMITLOG_SYNC_YAML=$'commitlog_sync: periodic\ncommitlog_sync_period: 10000ms'
fi
STORAGE_PORT="$(free_port "${CHAT_CASSANDRA_STORAGE_PORT:-7000}")"
if [[ "${CHAT_CASSANDRA_KEEP_DATA:-}" == 1 && -d "$RUN/data" ]]; then
  log "restarting on the data in $RUN"
  mv "$RUN/logs/system.log" "$RUN/system.log.previous" 2>/dev/null || true
else
  rm -rf "$RUN/data" "$RUN/commitlog" "$RUN/saved_caches" "$RUN/hints" "$RUN/cdc_raw" "$RUN/logs"
fi
mkdir -p "$RUN/data" "$RUN/commitlog" "$RUN/saved_caches" "$RUN/hints" "$RUN/cdc_raw" "$RUN/logs" "$RUN/triggers"
cat >"$RUN/cassandra.yaml" <<YAML
# Generated by test/infra/cassandra.sh: a throwaway single node for tests.
cluster_name: grpc-chat-test
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$HOST:$STORAGE_PORT"
listen_address: $HOST
rpc_address: $HOST
storage_port: $STORAGE_PORT
start_native_transport: true
native_transport_port: $PORT
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
data_file_directories:
  - $RUN/data
commitlog_directory: $RUN/commitlog
saved_caches_directory: $RUN/saved_caches
hints_directory: $RUN/hints
cdc_raw_directory: $RUN/cdc_raw
$COMMITLOG_SYNC_YAML
commitlog_segment_size: $COMMITLOG_SEGMENT
# Tests create and drop a keyspace per run: no snapshot on drop/truncate.
auto_snapshot: false
# Small machine (2 cores): modest pools and caches.
concurrent_reads: 8
concurrent_writes: 8
concurrent_counter_writes: 4
concurrent_compactors: 1
memtable_heap_space: $MEMTABLE_HEAP
memtable_offheap_space: $MEMTABLE_OFFHEAP
memtable_allocation_type: $MEMTABLE_ALLOCATION
key_cache_size: 16MiB
prepared_statements_cache_size: 8MiB
# Slightly more patient than the defaults: a loaded CI box must not turn a
# slow LWT round into a spurious timeout.
read_request_timeout: 5000ms
write_request_timeout: 5000ms
range_request_timeout: 10000ms
cas_contention_timeout: 3000ms
YAML

JVM_OPTS=(
  "-Xms$HEAP" "-Xmx$HEAP" -Xss256k
  -ea -da:net.openhft...
  -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1 -XX:G1HeapRegionSize=16m
  -XX:G1RSetUpdatingPauseTimePercent=5 -XX:MaxGCPauseMillis=300 -XX:InitiatingHeapOccupancyPercent=70
  -XX:+ExitOnOutOfMemoryError -XX:+UseThreadPriorities -XX:+PerfDisableSharedMem -XX:+UseTLAB -XX:+ResizeTLAB
  -Djava.net.preferIPv4Stack=true
  # JPMS (conf/jvm17-server.options of Cassandra 5.0)
  -Djdk.attach.allowAttachSelf=true
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
  --add-exports java.sql/java.sql=ALL-UNNAMED
  --add-exports java.base/java.lang.ref=ALL-UNNAMED
  --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
  --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
  --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
  --add-opens java.base/java.lang.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
  --add-opens java.base/jdk.internal.math=ALL-UNNAMED
  --add-opens java.base/jdk.internal.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens java.base/java.io=ALL-UNNAMED
  --add-opens java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
  --add-opens java.base/java.lang=ALL-UNNAMED
  --add-opens java.base/java.util=ALL-UNNAMED
  -Dio.netty.tryReflectionSetAccessible=true
  -Dio.netty.allocator.useCacheForAllThreads=true
  -Dio.netty.allocator.maxOrder=11
  # Cassandra itself
  -Dcassandra-foreground=yes
  "-Dcassandra.config=file://$RUN/cassandra.yaml"
  "-Dcassandra.storagedir=$RUN"
  "-Dcassandra.logdir=$RUN/logs"
  "-Dcassandra.triggers_dir=$RUN/triggers"
  "-Dlogback.configurationFile=$HERE/cassandra/logback.xml"
  # A lone seed has nobody to gossip with: do not wait for gossip to settle.
  -Dcassandra.skip_wait_for_gossip_to_settle=0
)
jamm="$(ls "$LIB"/jamm-*.jar 2>/dev/null | head -n 1 || true)"
[[ -n "$jamm" ]] && JVM_OPTS+=("-javaagent:$jamm")
[[ -n "${CHAT_CASSANDRA_JMX_PORT:-}" ]] && JVM_OPTS+=("-Dcassandra.jmx.local.port=$CHAT_CASSANDRA_JMX_PORT")

log "starting Cassandra $VERSION ($("$JAVA" -version 2>&1 | head -n 1)), heap $HEAP, storage port $STORAGE_PORT, dir $RUN"
t0="$(now)"
cd "$RUN"
# setsid: the node outlives this script and ignores the terminal's Ctrl-C.
setsid "$JAVA" "${JVM_OPTS[@]}" -cp "$LIB/*" org.apache.cassandra.service.CassandraDaemon \
  >"$RUN/logs/stdout.log" 2>&1 </dev/null 9>&- &
pid=$!
echo "$pid" >"$PIDFILE"
cd "$ROOT"
if ! wait_ready "$pid" "$t0"; then
  kill "$pid" 2>/dev/null || true
  exit 1
fi
