/**
 * A Register/Login flooder in a process of its own, as an attacker on
 * another machine would be (in the test's process it would compete with the
 * node for the same event loop). Usage:
 *   node floodClient.js <grpc address> <x-forwarded-for> <ms> <concurrency>
 * Each caller loops: Register a random name, then Login with another random
 * name. Prints one JSON line: { "<status code>": count, ... }.
 */
import { Metadata } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { A, Api, rpc } from './client.js';

const [address, forwardedFor, ms, concurrency] = process.argv.slice(2) as [string, string, string, string];
const api = new Api(address);
const md = new Metadata();
md.set('x-forwarded-for', forwardedFor);
const codes: Record<number, number> = {};
const ends = Date.now() + Number(ms);
const code = (p: Promise<unknown>) =>
  p.then(
    () => 0,
    (e: { code: number }) => e.code,
  );

async function worker() {
  while (Date.now() < ends) {
    const name = 'r' + randomUUID().replaceAll('-', '').slice(0, 20);
    for (const c of [
      await code(rpc(api.accounts, A.register, { userName: name, password: 'random password!' }, md)),
      await code(rpc(api.accounts, A.login, { userName: 'x' + name, password: 'random password!', deviceId: 'd' }, md)),
    ])
      codes[c] = (codes[c] ?? 0) + 1;
  }
}

await Promise.all(Array.from({ length: Number(concurrency) }, worker));
api.close();
process.stdout.write(JSON.stringify(codes) + '\n');
