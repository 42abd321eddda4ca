# The two commands a new developer needs: `make run` and `make test`.
SHELL := /bin/bash
NPM_STAMP := node_modules/.install-stamp

.PHONY: run run-cluster test unit build gen web lint format install clean infra

run: build ## one node on the embedded default (in-memory adapters) at 127.0.0.1:50051
	node dist/src/app/main.js

run-cluster: build ## 3 nodes on 127.0.0.1:50051-50053 over local Redis (CHAT_REDIS_MODE=cluster: the local Redis Cluster) and Cassandra (CHAT_DISCOVERY=zookeeper: over the local ZooKeeper ensemble)
	if [ "$${CHAT_REDIS_MODE:-single}" = cluster ]; then bash test/infra/redis-cluster.sh; else bash test/infra/redis.sh; fi
	bash test/infra/cassandra.sh
	if [[ "$${CHAT_DISCOVERY:-}" == zookeeper && -z "$${CHAT_ZK_CONNECT:-}" ]]; then bash test/infra/zookeeper.sh; fi
	bash scripts/run-cluster.sh

test: build lint infra ## everything: proto lint, unit, contract and end-to-end tests
	node scripts/run-tests.js

install: $(NPM_STAMP)

infra: install ## test backends: a Cassandra 5.0 node on 127.0.0.1:9042 and a 3-server ZooKeeper 3.9 ensemble on 2181-2183 (jars from Maven Central), Redis on 6379 and a Redis Cluster on 7101-7106
	bash test/infra/redis.sh
	bash test/infra/redis-cluster.sh
	bash test/infra/chromium.sh
	bash test/infra/zookeeper.sh
	bash test/infra/cassandra.sh

# A worktree whose node_modules links to another checkout's must not reinstall it (npm ci would empty the shared folder).
$(NPM_STAMP): package.json package-lock.json
	@if [ -L node_modules ]; then echo "node_modules is a link to a shared install: not reinstalling"; else npm ci --no-audit --no-fund && touch $@; fi

gen: install
	npx buf generate

web: gen ## the browser client: web/src and the client generated from proto/, type-checked, bundled by esbuild into web/dist/app.js
	npx tsc -p web/tsconfig.json
	npx esbuild web/src/main.ts --bundle --format=esm --target=es2022 --minify --sourcemap --log-level=warning --outfile=web/dist/app.js

build: gen web
	npx tsc -p tsconfig.json

lint: install ## proto lint and breaking-change check against the previous commit, then format and lint of every source (Biome)
	npx buf lint
	if git rev-parse -q --verify HEAD~1 >/dev/null; then npx buf breaking --against '.git#ref=HEAD~1'; else echo "buf breaking: no previous commit here (shallow clone): skipped"; fi
	npx biome ci --error-on-warnings --colors=off .

unit: build ## the tests that need no Redis, Cassandra or browser (under a minute)
	node --test --test-concurrency=1 --test-force-exit $$(find dist/src dist/bench -name '*.test.js') dist/test/contract/memory.test.js

format: install ## rewrites sources in the project's format (Biome)
	npx biome format --write .

clean:
	rm -rf dist src/gen src/gen-es web/dist

.PHONY: bench bench-quick
# The benchmark's Cassandra node is sized like a small production node (the tests'
# defaults are tiny memtables that flush and compact all the time). They apply when
# `make infra` starts the node; a node already answering on 9042 is reused as it is
# (the report notes its memtable settings).
bench bench-quick: export CHAT_CASSANDRA_HEAP ?= 2G
bench bench-quick: export CHAT_CASSANDRA_MEMTABLE_HEAP ?= 512MiB
bench bench-quick: export CHAT_CASSANDRA_MEMTABLE_OFFHEAP ?= 512MiB
bench bench-quick: export CHAT_CASSANDRA_MEMTABLE_ALLOCATION ?= offheap_objects
bench bench-quick: export CHAT_CASSANDRA_COMMITLOG_SEGMENT ?= 32MiB
bench: build infra ## full benchmark (< 15 min): bench/results/full-<time>.json, full-latest.md, full-latest.svg
	ulimit -n 65536 2>/dev/null || ulimit -n "$$(ulimit -Hn)"; node dist/bench/main.js full

bench-quick: build infra ## quick benchmark (< 2 min): bench/results/quick-<time>.json, quick-latest.md, quick-latest.svg
	ulimit -n 65536 2>/dev/null || ulimit -n "$$(ulimit -Hn)"; node dist/bench/main.js quick
