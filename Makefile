# The two commands a new developer needs: `make run` and `make test`.
SHELL := /bin/bash
NPM_STAMP := node_modules/.install-stamp

.PHONY: run run-cluster test build gen lint format install clean infra

run: build ## one node on the embedded default (in-memory adapters) at 127.0.0.1:50051
	node dist/src/app/main.js

run-cluster: build ## 3 nodes on 127.0.0.1:50051-50053 over local Redis (or, with CHAT_REDIS_MODE=cluster, the local Redis Cluster) and Cassandra
	if [ "$${CHAT_REDIS_MODE:-single}" = cluster ]; then bash test/infra/redis-cluster.sh; else bash test/infra/redis.sh; fi
	bash test/infra/cassandra.sh
	bash scripts/run-cluster.sh

test: build lint infra ## everything: proto lint, unit, contract and end-to-end tests
	node scripts/run-tests.js

install: $(NPM_STAMP)

infra: install ## test backends: a Cassandra 5.0 node on 127.0.0.1:9042 (jars from Maven Central), Redis on 6379 and a Redis Cluster on 7101-7106
	bash test/infra/redis.sh
	bash test/infra/redis-cluster.sh
	bash test/infra/chromium.sh
	bash test/infra/cassandra.sh

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

gen: install
	npx buf generate

build: gen
	npx tsc -p tsconfig.json

lint: install ## proto lint, then format and lint of every TypeScript/JavaScript source (Biome)
	npx buf lint
	npx biome ci --colors=off .

format: install ## rewrites sources in the project's format (Biome)
	npx biome format --write .

clean:
	rm -rf dist src/gen

.PHONY: bench bench-quick
bench: build infra ## full benchmark (< 10 min): bench/results/full-<time>.json, full-latest.md, full-latest.svg
	ulimit -n 65536 2>/dev/null || ulimit -n "$$(ulimit -Hn)"; node dist/bench/main.js full

bench-quick: build infra ## quick benchmark (< 2 min): bench/results/quick-<time>.json, quick-latest.md, quick-latest.svg
	ulimit -n 65536 2>/dev/null || ulimit -n "$$(ulimit -Hn)"; node dist/bench/main.js quick
