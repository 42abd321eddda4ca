import { Server, ServerCredentials, type ServerDuplexStream, type ServiceDefinition } from '@grpc/grpc-js';
import { pbPos, readVarint, relayAck } from '../lib/pb.js';
import type { Durable } from './durable.js';

/**
 * The ceiling: a bare grpc-js relay. One bidi method; a stream says hello with
 * its device number (and group), then every data frame it sends is forwarded,
 * bytes unchanged, to the target device's stream or to every stream of the
 * target group. No auth, no ids, no storage, no queue bounds; the same
 * server options as the project (max_concurrent_streams, keepalive, frame
 * limit). Frame layout: bench/lib/pb.ts.
 *
 * Two variants, for baselines that do the work the product does per send:
 * - BENCH_RELAY_ACK=1 (the ack relay): every data frame is also answered with a
 *   small ack frame to its sender, so the relay reads one frame and writes two
 *   (the product answers each send with a send_ack);
 * - BENCH_RELAY_DURABLE=1 (the durable relay, implies the ack): before it
 *   forwards and acks a direct frame, it takes an id with Redis INCR on a
 *   per-channel key and writes the message with one prepared INSERT into a
 *   table shaped like the product's `messages` (bench/servers/durable.ts).
 *   Frames of one stream are forwarded in the order their writes complete.
 *
 * Usage: node dist/bench/servers/relay.js  (prints "listening on 127.0.0.1:<port>")
 */

type Call = ServerDuplexStream<Buffer, Buffer>;
const id = (b: Buffer) => b;

const durableMode = process.env.BENCH_RELAY_DURABLE === '1';
const ackMode = durableMode || process.env.BENCH_RELAY_ACK === '1';
let store: Durable | undefined;
let acks = 0;

const devices = new Map<number, Call>();
const groups = new Map<number, Set<Call>>();
let storeErrors = 0;

const definition: ServiceDefinition = {
  connect: {
    path: '/bench.Relay/Connect',
    requestStream: true,
    responseStream: true,
    requestSerialize: id,
    requestDeserialize: id,
    responseSerialize: id,
    responseDeserialize: id,
    originalName: 'connect',
  },
} as unknown as ServiceDefinition;

function connect(call: Call) {
  let device = -1;
  let group: Set<Call> | undefined;
  call.on('data', (buf: Buffer) => {
    const tag = buf[0];
    if (tag === 0x18) {
      const to = readVarint(buf, 1);
      if (store) {
        store.append(Math.min(device, to), Math.max(device, to), device, buf).then(
          (id) => {
            devices.get(to)?.write(buf);
            call.write(relayAck(buf, id));
          },
          (e: Error) => {
            // The send stays unacknowledged (the report counts it); the stream and its device stay.
            if (storeErrors++ === 0) console.error(`durable relay: a store failed (${e.message}); such sends are not acknowledged`);
          },
        );
        return;
      }
      devices.get(to)?.write(buf);
      if (ackMode) call.write(relayAck(buf, ++acks));
    } else if (tag === 0x20) {
      const members = groups.get(readVarint(buf, 1));
      if (members) for (const m of members) m.write(buf);
      if (ackMode) call.write(relayAck(buf, ++acks));
    } else if (tag === 0x08) {
      device = readVarint(buf, 1);
      devices.set(device, call);
      if (buf[pbPos] === 0x10) {
        const g = readVarint(buf, pbPos + 1) - 1;
        group = groups.get(g);
        if (!group) groups.set(g, (group = new Set()));
        group.add(call);
      }
    }
  });
  const done = () => {
    if (device >= 0 && devices.get(device) === call) devices.delete(device);
    group?.delete(call);
  };
  call.on('cancelled', done);
  call.on('error', done);
  call.on('end', () => {
    done();
    call.end();
  });
}

const server = new Server({
  'grpc.max_receive_message_length': 64 * 1024,
  'grpc.max_concurrent_streams': 1000,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
});
server.addService(definition, { connect } as never);
// Loaded only here: the bare relay's memory (density) must not carry the drivers.
if (durableMode) store = await (await import('./durable.js')).openDurable();
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(err.message);
    process.exit(1);
  }
  console.error(`${durableMode ? 'durable ' : ackMode ? 'ack ' : ''}relay listening on 127.0.0.1:${port}`);
});
const stop = () => {
  server.forceShutdown();
  void (store?.close() ?? Promise.resolve()).finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
