import { test } from 'node:test';
import assert from 'node:assert/strict';
import { user, type Factories } from './support.js';

/** The PresenceStore contract, for every adapter. */
export function presenceStoreSuite(name: string, make: NonNullable<Factories['presence']>) {
  test(`${name} PresenceStore: one online transition, offline once the last device expires`, async () => {
    const s = await make();
    const u = user();
    assert.deepEqual(await s.touch(u, 'a', 100, 1000), { cameOnline: true });
    assert.deepEqual(await s.touch(u, 'b', 200, 1500), { cameOnline: false });
    assert.deepEqual(await s.sweep(1200), []);
    const off = await s.sweep(1600);
    assert.deepEqual(off, [{ userId: u, online: false, lastActiveAtMs: 200 }]);
    assert.deepEqual(await s.sweep(1700), [], 'reported once');
    assert.deepEqual(await s.get([u]), [{ userId: u, online: false, lastActiveAtMs: 200 }]);
    assert.deepEqual(await s.touch(u, 'a', 2000, 3000), { cameOnline: true });
  });
}
