/**
 * A stream flooder in a process of its own, as an attacker on another machine
 * would be (in the test's process, opening thousands of streams would stall
 * the very event loop that measures the other user's latency). Usage:
 *   node streamFlood.js <grpc address> <access token> <user id> <count per kind> <connections>
 * Opens <count> Connect streams that never send resume and <count>
 * WatchPresence streams, spread over <connections> HTTP/2 connections, waits
 * until every stream has an answer or 20 s pass, prints one JSON line
 * { refused, open, other, detail } and keeps the open streams until its stdin closes.
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import { Api, bearer } from './client.js';

const [address, token, userId, count, conns] = process.argv.slice(2) as [string, string, string, string, string];
const apis = Array.from({ length: Number(conns) }, () => new Api(address, { 'grpc.use_local_subchannel_pool': 1 }));
const md = bearer(token);
const errors: ServiceError[] = [];
const calls: Array<{ cancel(): void }> = [];
const track = (c: { on(ev: 'error', f: (e: ServiceError) => void): unknown; on(ev: 'data', f: () => void): unknown; cancel(): void }) => {
  c.on('data', () => {});
  c.on('error', (e: ServiceError) => errors.push(e));
  calls.push(c);
};
const n = Number(count);
for (let i = 0; i < n; i++) {
  const api = apis[i % apis.length]!;
  track(api.chat.connect(md));
  track(api.presence.watchPresence({ userIds: [userId] }, md));
  if (i % 100 === 99) await new Promise((r) => setTimeout(r, 5));
}
const refused = () => errors.filter((e) => e.code === status.RESOURCE_EXHAUSTED).length;
const ends = Date.now() + 20_000;
while (refused() < 2 * n - 16 && Date.now() < ends) await new Promise((r) => setTimeout(r, 50));
await new Promise((r) => setTimeout(r, 300));
const other = errors.filter((e) => e.code !== status.RESOURCE_EXHAUSTED && e.code !== status.CANCELLED).map((e) => `${e.code} ${e.details}`);
process.stdout.write(`${JSON.stringify({ refused: refused(), open: 2 * n - errors.length, other: other.slice(0, 5), detail: errors[0]?.details ?? '' })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  for (const c of calls) c.cancel();
  for (const a of apis) a.close();
  setTimeout(() => process.exit(0), 100);
});
