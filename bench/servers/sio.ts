import { createServer } from 'node:http';
import { Server } from 'socket.io';

/**
 * The peer a Node team would otherwise pick: a socket.io relay. A socket
 * joins the room of its device number (and of its group) on connect; an
 * `m` event (target, payload) is emitted to the target device's room, a `g`
 * event (group, payload) to the group's room. WebSocket transport only.
 * A client that emits with an acknowledgement callback (socket.io with acks)
 * gets it called once the message is handed to the room.
 * With BENCH_SIO_REDIS=redis://... it uses @socket.io/redis-adapter, as a
 * multi-node deployment would (every emit is also published on Redis).
 *
 * Usage: node dist/bench/servers/sio.js  (prints "listening on 127.0.0.1:<port>")
 */

const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, maxHttpBufferSize: 64 * 1024 });
let closeRedis = () => {};

async function main() {
  const url = process.env.BENCH_SIO_REDIS;
  if (url) {
    const [{ Redis }, { createAdapter }] = await Promise.all([import('ioredis'), import('@socket.io/redis-adapter')]);
    const pub = new Redis(url);
    const sub = pub.duplicate();
    io.adapter(createAdapter(pub, sub, { key: process.env.BENCH_SIO_KEY ?? 'bench-sio' }));
    closeRedis = () => {
      pub.disconnect();
      sub.disconnect();
    };
  }
  io.on('connection', (socket) => {
    const auth = socket.handshake.auth as { id?: number; group?: number };
    socket.join('d' + auth.id);
    if (auth.group !== undefined) socket.join('g' + auth.group);
    socket.on('m', (to: number, payload: string, ack?: (ok: number) => void) => {
      io.to('d' + to).emit('m', payload);
      if (typeof ack === 'function') ack(1);
    });
    socket.on('g', (group: number, payload: string, ack?: (ok: number) => void) => {
      io.to('g' + group).emit('m', payload);
      if (typeof ack === 'function') ack(1);
    });
  });
  http.listen(0, '127.0.0.1', () => {
    const a = http.address();
    console.error(`socket.io${url ? '+redis' : ''} listening on 127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`);
  });
}

const stop = () => {
  closeRedis();
  void io.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
main().catch((e) => {
  console.error(String(e));
  process.exit(1);
});
