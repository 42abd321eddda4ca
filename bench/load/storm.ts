import { randomUUID } from 'node:crypto';
import { ServerFrame } from '../../src/gen/chat/v1/chat.js';
import { makeBody, nowMs } from '../lib/body.js';
import { msg, readServerFrame, SendFrameEncoder } from '../lib/pb.js';
import { CpuMeter } from '../lib/procstat.js';
import { r1 } from '../lib/stats.js';
import { pool, sleep, waitFor } from './fleet.js';
import { bearer, connections, openStream, PASSWORD, setupClient, setupProject, userPrefix, type ProjectDevice } from './project.js';

export interface StormResult {
  devices: number;
  channels: number;
  usersPerChannel: number;
  behind: number;
  connections: number;
  /** Time from issuing every reconnect (same tick) until the last device got caught_up. */
  allCaughtUpMs: number;
  /** Per-device time to caught_up (ms). */
  perDevice: { p50: number; p99: number; max: number };
  caughtUp: number;
  /** Expected backlog messages a device did not get before caught_up. */
  missing: number;
  duplicates: number;
  outOfOrder: number;
  /** Messages outside the expected backlog (none should arrive: no live traffic during the storm). */
  unexpected: number;
  replayedPerSec: number;
  cpu: Record<string, number>;
  setupSeconds: number;
}

interface StormDevice extends ProjectDevice {
  got: number[];
  gotBeforeCaughtUp: number;
  caughtUpAt: number;
}

/**
 * Reconnect storm: D devices in channels of `usersPerChannel` users get
 * caught up once, go offline, fall `behind` messages behind (a writer device
 * per channel sends them), then all reconnect in the same tick with their
 * cursors. Measures the time until every device has its backlog and
 * caught_up, and checks the backlog: every id after the cursor up to the
 * head, once, in order.
 */
export async function storm(
  address: string,
  o: { devices: number; usersPerChannel: number; behind: number; connections: number; timeoutMs: number; runId: string; pids: Record<string, number> },
  log: (s: string) => void,
): Promise<StormResult> {
  const t0 = Date.now();
  const devs = (await setupProject(address, { users: o.devices, devicesPerUser: 1, usersPerChannel: o.usersPerChannel }, o.runId, log)) as StormDevice[];
  for (const d of devs) Object.assign(d, { got: [], gotBeforeCaughtUp: 0, caughtUpAt: 0 });
  const channels = Math.ceil(o.devices / o.usersPerChannel);
  const clients = connections(address, o.connections);

  const writers = await loginWriters(address, devs, o, channels);
  const write = await startWriters(clients, writers, o.timeoutMs);

  // Every device connects and catches up once, then goes offline.
  await write(2);
  const cursors = await catchUpOnce(clients, devs);
  await sleep(300);

  // The backlog: `behind` messages in every channel while the devices are away.
  const tw = Date.now();
  await write(o.behind);
  log(`  storm: ${o.behind * writers.length} backlog messages written in ${((Date.now() - tw) / 1000).toFixed(1)} s`);
  const setupSeconds = (Date.now() - t0) / 1000;
  await sleep(500);

  // The storm: every device reconnects in the same tick with its cursor.
  for (const d of devs) {
    d.got = [];
    d.caughtUp = false;
  }
  const cpu = new CpuMeter({ ...o.pids, loadgen: process.pid });
  cpu.start();
  const start = nowMs();
  devs.forEach((d, i) => openStream(clients[d.index % clients.length]!, d, onStormFrame, () => {}, [{ channelId: d.channelId, lastMessageId: cursors[i]! }]));
  await waitFor(() => devs.every((d) => d.caughtUp), o.timeoutMs, 'every device to catch up').catch((e) => log(`  storm: ${(e as Error).message}`));
  const end = Math.max(...devs.map((d) => (d.caughtUp ? d.caughtUpAt : nowMs())));
  const cpuUse = cpu.read();
  await sleep(300);

  const { missing, duplicates, outOfOrder, unexpected } = checkBacklog(devs, cursors, o.behind);
  const times = devs
    .filter((d) => d.caughtUp)
    .map((d) => d.caughtUpAt - start)
    .sort((a, b) => a - b);
  const q = (p: number) => r1(times[Math.min(times.length - 1, Math.max(0, Math.ceil(p * times.length) - 1))] ?? NaN);
  for (const d of [...devs, ...writers]) d.stream?.cancel();
  for (const c of clients) c.close();
  const allMs = end - start;
  return {
    devices: o.devices,
    channels,
    usersPerChannel: o.usersPerChannel,
    behind: o.behind,
    connections: o.connections,
    allCaughtUpMs: r1(allMs),
    perDevice: { p50: q(0.5), p99: q(0.99), max: q(1) },
    caughtUp: times.length,
    missing,
    duplicates,
    outOfOrder,
    unexpected,
    replayedPerSec: Math.round((o.devices * o.behind) / (allMs / 1000)),
    cpu: cpuUse,
    setupSeconds: r1(setupSeconds),
  };
}

/** Logs in one writer device per channel (a second device of the channel's first user). */
async function loginWriters(address: string, devs: StormDevice[], o: { usersPerChannel: number; runId: string }, channels: number): Promise<ProjectDevice[]> {
  const api = setupClient(address);
  const writers: ProjectDevice[] = [];
  await pool(channels, 32, async (b) => {
    const owner = devs[b * o.usersPerChannel]!;
    const r = await api.accounts.login({ userName: userPrefix(o.runId) + owner.user, password: PASSWORD, deviceId: 'w' });
    writers[b] = {
      index: b,
      user: owner.user,
      userId: r.userId,
      token: r.accessToken,
      md: bearer(r.accessToken),
      channelId: owner.channelId,
      lastId: 0,
      alive: false,
      caughtUp: false,
    };
  });
  api.close();
  return writers;
}

/** Opens the writers' streams; the returned `write(n)` sends n messages from every writer and waits for their acks. */
async function startWriters(clients: ReturnType<typeof connections>, writers: ProjectDevice[], timeoutMs: number): Promise<(n: number) => Promise<void>> {
  let acks = 0;
  let sendErrors = 0;
  const writerFrame = (w: ProjectDevice, buf: Buffer) => {
    const f = readServerFrame(buf);
    if (f === 2) acks++;
    else if (f === 3) sendErrors++;
    else if (f === 7) w.caughtUp = true;
  };
  for (const w of writers) openStream(clients[w.index % clients.length]!, w, writerFrame, () => {});
  await waitFor(() => writers.every((w) => w.caughtUp), 60_000, 'writers to catch up');
  return async (n: number) => {
    const want = acks + n * writers.length;
    for (const w of writers) {
      const enc = new SendFrameEncoder(w.channelId, 128);
      for (let i = 0; i < n; i++) w.stream!.write(enc.encode(randomUUID(), makeBody(128, 1, 0, i, 0)));
    }
    await waitFor(() => acks + sendErrors >= want, timeoutMs, `${n * writers.length} sends to be acknowledged`);
    if (sendErrors) throw new Error(`${sendErrors} sends failed while preparing the storm`);
  };
}

/** A storm device's frames: messages are recorded; the first caught_up marks its time and cursor. */
function onStormFrame(d: ProjectDevice, buf: Buffer) {
  const sd = d as StormDevice;
  const f = readServerFrame(buf);
  if (f === 1) {
    sd.got.push(msg.id);
    if (msg.id > sd.lastId) sd.lastId = msg.id;
  } else if (f === 7) {
    if (!sd.caughtUp) {
      sd.caughtUp = true;
      sd.caughtUpAt = nowMs();
      sd.gotBeforeCaughtUp = sd.got.length;
      const cu = ServerFrame.decode(buf).frame;
      if (cu?.$case === 'caughtUp')
        for (const c of cu.caughtUp.cursors) if (c.channelId === sd.channelId && c.lastMessageId > sd.lastId) sd.lastId = c.lastMessageId;
    }
  }
}

/** Checks each device's backlog: every id after its cursor up to the head, once, in order, before caught_up. */
function checkBacklog(devs: StormDevice[], cursors: number[], behind: number) {
  let missing = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let unexpected = 0;
  devs.forEach((d, i) => {
    const from = cursors[i]!;
    const head = from + behind;
    const seen = new Set<number>();
    let prev = from;
    d.got.forEach((id, k) => {
      if (seen.has(id)) duplicates++;
      else if (id <= from || id > head || k >= d.gotBeforeCaughtUp) unexpected++;
      if (id <= prev) outOfOrder++;
      seen.add(id);
      prev = id;
    });
    for (let id = from + 1; id <= head; id++) if (!seen.has(id)) missing++;
  });
  return { missing, duplicates, outOfOrder, unexpected };
}

/** Every device connects and catches up, then goes offline; returns their cursors. */
async function catchUpOnce(clients: ReturnType<typeof connections>, devs: StormDevice[]): Promise<number[]> {
  for (const d of devs) openStream(clients[d.index % clients.length]!, d, onStormFrame, () => {});
  await waitFor(() => devs.every((d) => d.caughtUp), 60_000, 'devices to catch up before the storm');
  await sleep(300);
  for (const d of devs) {
    d.alive = false;
    d.stream!.cancel();
  }
  const cursors = devs.map((d) => d.lastId);
  return cursors;
}
