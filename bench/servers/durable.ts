import cassandra from 'cassandra-driver';
import { Redis } from 'ioredis';
import { pbPos, readVarint } from '../lib/pb.js';

/**
 * The storage of the durable relay: the least a chat server must do to store
 * a message before acknowledging it. Per message, one Redis INCR on the
 * channel's key (the id) and one prepared INSERT into a table of the same
 * shape as the product's `messages` (src/adapters/scylla/migrate.ts), with the
 * product's default consistency (LOCAL_QUORUM) and the same client options
 * where they matter (ioredis auto-pipelining, one CQL connection per host).
 *
 * Environment: BENCH_REDIS_URL, BENCH_CQL_CONTACT_POINT, BENCH_DURABLE_KEYSPACE
 * (created here, dropped by the harness), BENCH_DURABLE_PREFIX (Redis keys).
 */

export interface Durable {
  /** Stores the direct frame `buf` from `sender` in the channel of devices a < b; resolves with its id. */
  append(a: number, b: number, sender: number, buf: Buffer): Promise<number>;
  close(): Promise<void>;
}

const BUCKET = 1000;

/**
 * INSERTs in flight at most; more wait their turn in arrival order. Past 2,048 on its one
 * connection the driver refuses with "Server is busy"; the relay used to end the device's
 * stream on that, so after one overloaded step (8,000 offered) it had lost its devices and
 * the later steps delivered nothing, an artefact rather than a measure of the floor.
 */
const MAX_IN_FLIGHT = 1024;

export async function openDurable(): Promise<Durable> {
  const keyspace = process.env.BENCH_DURABLE_KEYSPACE ?? 'bench_durable';
  if (!/^[a-z][a-z0-9_]{0,47}$/.test(keyspace)) throw new Error(`bad keyspace ${keyspace}`);
  const prefix = process.env.BENCH_DURABLE_PREFIX ?? 'bench-durable:';
  const redis = new Redis(process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  const boot = new cassandra.Client({ contactPoints: [process.env.BENCH_CQL_CONTACT_POINT ?? '127.0.0.1:9042'], localDataCenter: 'datacenter1' });
  await boot.execute(`CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class':'SimpleStrategy','replication_factor':1}`);
  await boot.execute(
    `CREATE TABLE IF NOT EXISTS ${keyspace}.messages (
       channel_id text, bucket bigint, id bigint,
       sender_user_id text, sender_device_id text, client_msg_id text,
       body text, sent_at_ms bigint, kind text,
       PRIMARY KEY ((channel_id, bucket), id)
     ) WITH CLUSTERING ORDER BY (id DESC)`,
  );
  await boot.shutdown();
  const client = new cassandra.Client({
    contactPoints: [process.env.BENCH_CQL_CONTACT_POINT ?? '127.0.0.1:9042'],
    localDataCenter: 'datacenter1',
    keyspace,
    queryOptions: { consistency: cassandra.types.consistencies.localQuorum, prepare: true, isIdempotent: true },
  });
  await client.connect();
  const insert =
    'INSERT INTO messages (channel_id, bucket, id, sender_user_id, sender_device_id, client_msg_id, body, sent_at_ms, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)';
  const Long = cassandra.types.Long;
  let inFlight = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else inFlight--;
  };
  return {
    async append(a, b, sender, buf) {
      const channel = `d_${a}_${b}`;
      const id = await redis.incr(prefix + channel);
      readVarint(buf, 1);
      const len = readVarint(buf, pbPos + 1);
      const body = buf.toString('latin1', pbPos, pbPos + len);
      if (inFlight < MAX_IN_FLIGHT) inFlight++;
      else await new Promise<void>((r) => waiting.push(r));
      await client
        .execute(insert, [
          channel,
          Long.fromNumber(Math.floor(id / BUCKET)),
          Long.fromNumber(id),
          `u_${sender}`,
          'd0',
          body.slice(0, 36),
          body,
          Long.fromNumber(Date.now()),
          'user',
        ])
        .finally(release);
      return id;
    },
    async close() {
      redis.disconnect();
      await client.shutdown();
    },
  };
}
