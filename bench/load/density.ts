import { nowMicros, makeBody } from '../lib/body.js';
import { relayFrame, relayHello, readRelayFrame } from '../lib/pb.js';
import { readServerFrame } from '../lib/pb.js';
import { r1 } from '../lib/stats.js';
import { sleep, waitFor } from './fleet.js';
import { connections, openStream, setupProject, type ProjectDevice } from './project.js';

export interface MemProbe {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export interface DensityResult {
  streams: number;
  connections: number;
  /** Seconds to open every stream (and, for the project, receive caught_up on each). */
  openSeconds: number;
  before: MemProbe;
  /** With half the streams open (2 s after they opened). */
  mid: MemProbe;
  /** With all streams open, 2 s after they opened, and again after the idle period (the figure). */
  settled: MemProbe;
  after: MemProbe;
  /** (after - before) / streams. */
  rssPerStream: number;
  /** (settled - mid) / (streams / 2): the marginal cost, free of memory the process had already committed before. */
  marginalRssPerStream: number;
  heapPerStream: number;
  aliveAtEnd: number;
  /** Streams that ended while they should have stayed open. */
  lost: number;
}

const perStream = (m: { before: MemProbe; mid: MemProbe; settled: MemProbe; after: MemProbe }, k: number) => ({
  rssPerStream: Math.round((m.after.rss - m.before.rss) / k),
  marginalRssPerStream: Math.round((m.settled.rss - m.mid.rss) / (k - Math.floor(k / 2))),
  heapPerStream: Math.round((m.after.heapUsed - m.before.heapUsed) / k),
});

/**
 * K idle authenticated Connect streams on the project (users with two
 * devices each, paired in direct channels, so every session follows a
 * contact's presence and the node heartbeats every device). Server RSS is
 * read after two full GCs, before the streams and after them.
 */
export async function projectDensity(
  address: string,
  k: number,
  nConn: number,
  idleMs: number,
  runId: string,
  probe: () => Promise<MemProbe>,
  log: (s: string) => void,
): Promise<DensityResult> {
  const devices = await setupProject(address, { users: k / 2, devicesPerUser: 2, usersPerChannel: 2 }, runId, log);
  await sleep(1000);
  const before = await probe();
  const clients = connections(address, nConn);
  const t0 = Date.now();
  const onFrame = (d: ProjectDevice, buf: Buffer) => {
    if (readServerFrame(buf) === 7) d.caughtUp = true;
  };
  let lost = 0;
  let mid: MemProbe | undefined;
  let paused = 0;
  const batch = 500;
  const half = Math.floor(k / 2);
  for (let from = 0; from < k; ) {
    const to = Math.min(k, from < half ? Math.min(half, from + batch) : from + batch);
    const part = devices.slice(from, to);
    for (const d of part) openStream(clients[d.index % nConn]!, d, onFrame, () => lost++);
    await waitFor(() => part.every((d) => d.caughtUp), 60_000, `streams ${from}..${to - 1} to catch up`);
    from = to;
    if (from === half) {
      const p0 = Date.now();
      await sleep(2000);
      mid = await probe();
      paused = Date.now() - p0;
    }
  }
  const openSeconds = (Date.now() - t0 - paused) / 1000;
  log(`  opened ${k} project streams over ${nConn} connections in ${openSeconds.toFixed(1)} s`);
  await sleep(2000);
  const settled = await probe();
  await sleep(idleMs);
  const after = await probe();
  const aliveAtEnd = devices.filter((d) => d.alive).length;
  for (const d of devices) d.stream?.cancel();
  for (const c of clients) c.close();
  const m = { before, mid: mid!, settled, after };
  return { streams: k, connections: nConn, openSeconds: r1(openSeconds), ...m, ...perStream(m, k), aliveAtEnd, lost };
}

/** K idle streams on the bare grpc-js relay, same connections, measured the same way. */
export async function relayDensity(
  address: string,
  k: number,
  nConn: number,
  idleMs: number,
  probe: () => Promise<MemProbe>,
  log: (s: string) => void,
): Promise<DensityResult> {
  await sleep(1000);
  const before = await probe();
  const clients = connections(address, nConn);
  const t0 = Date.now();
  const pinged = new Uint8Array(k);
  const alive = new Uint8Array(k).fill(1);
  const streams = [];
  let ok = 0;
  let mid: MemProbe | undefined;
  let paused = 0;
  const half = Math.floor(k / 2);
  for (let d = 0; d < k; d++) {
    const s = clients[d % nConn]!.makeBidiStreamRequest(
      '/bench.Relay/Connect',
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    s.on('data', (buf: Buffer) => {
      if (readRelayFrame(buf) && !pinged[d]) {
        pinged[d] = 1;
        ok++;
      }
    });
    s.on('error', () => (alive[d] = 0));
    s.write(relayHello(d));
    s.write(relayFrame(false, d, makeBody(64, 0, d, 0, nowMicros())));
    streams.push(s);
    if (d % 500 === 499 || d === half - 1) await waitFor(() => ok === d + 1, 60_000, 'relay streams to answer');
    if (d === half - 1) {
      const p0 = Date.now();
      await sleep(2000);
      mid = await probe();
      paused = Date.now() - p0;
    }
  }
  await waitFor(() => ok === k, 60_000, 'relay streams to answer');
  const openSeconds = (Date.now() - t0 - paused) / 1000;
  log(`  opened ${k} relay streams over ${nConn} connections in ${openSeconds.toFixed(1)} s`);
  await sleep(2000);
  const settled = await probe();
  await sleep(idleMs);
  const after = await probe();
  const aliveAtEnd = alive.reduce((a, b) => a + b, 0);
  for (const s of streams) s.cancel();
  for (const c of clients) c.close();
  const m = { before, mid: mid!, settled, after };
  return { streams: k, connections: nConn, openSeconds: r1(openSeconds), ...m, ...perStream(m, k), aliveAtEnd, lost: k - aliveAtEnd };
}
