import { after } from 'node:test';
import type { Cluster } from 'ioredis';
import { redisContract } from './redisFactories.js';
import { connectCluster } from '../../src/adapters/redis/connect.js';
import { REDIS_CLUSTER_URL, testPrefix } from '../support/redis.js';

// The same Redis contract on a real Redis Cluster (3 masters, 3 replicas: `make infra`).
const prefix = testPrefix();
const conns: Cluster[] = [];
const conn = async (sharded = false) => {
  let c: Cluster;
  try {
    c = await connectCluster(REDIS_CLUSTER_URL, 'contract', sharded);
  } catch (e) {
    throw new Error(`no Redis Cluster at ${REDIS_CLUSTER_URL} (run \`make infra\`): ${(e as Error).message}`);
  }
  conns.push(c);
  return c;
};
after(async () => {
  const c = conns[0];
  if (c) {
    // KEYS reaches one node only: ask every master.
    for (const m of c.nodes('master')) {
      const keys = await m.keys(`${prefix}*`);
      for (const k of keys) await c.del(k);
    }
  }
  conns.forEach((x) => x.disconnect());
});

redisContract('redis-cluster', prefix, conn, 16);
