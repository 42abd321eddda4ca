import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { user, type Factories } from './support.js';

/** The AccountStore contract, for every adapter. */
export function accountStoreSuite(name: string, make: NonNullable<Factories['accounts']>) {
  test(`${name} AccountStore: user names are unique (case-insensitive), devices idempotent`, async () => {
    const s = await make();
    const name = 'n' + randomUUID().slice(0, 8);
    const a = { userId: user(), userName: name, passwordHash: 'h', createdAtMs: 1 };
    await s.create(a);
    await assert.rejects(
      () => s.create({ ...a, userId: user(), userName: name.toUpperCase() }),
      (e: { kind: string }) => e.kind === 'already_exists',
    );
    assert.equal((await s.byName(name))!.userId, a.userId);
    assert.equal((await s.byId(a.userId))!.userName, name);
    assert.deepEqual(await s.addDevice({ userId: a.userId, deviceId: 'p', createdAtMs: 1 }), { created: true });
    assert.deepEqual(await s.addDevice({ userId: a.userId, deviceId: 'p', createdAtMs: 2 }), { created: false });
    assert.equal((await s.listDevices(a.userId)).length, 1);
  });
  test(`${name} AccountStore: racing creates of one name have exactly one winner`, async () => {
    const s = await make();
    const name = 'r' + randomUUID().slice(0, 8);
    const ids = Array.from({ length: 5 }, () => user());
    const results = await Promise.allSettled(
      ids.map((userId, i) => s.create({ userId, userName: i % 2 ? name.toUpperCase() : name, passwordHash: `h${i}`, createdAtMs: i })),
    );
    const won = results.findIndex((r) => r.status === 'fulfilled');
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { kind: string }).kind, 'already_exists');
    const stored = (await s.byName(name.toUpperCase()))!;
    assert.deepEqual(stored, { userId: ids[won]!, userName: won % 2 ? name.toUpperCase() : name, passwordHash: `h${won}`, createdAtMs: won });
    assert.deepEqual(await s.byId(ids[won]!), stored);
    assert.equal(await s.byName('nobody' + randomUUID().slice(0, 8)), undefined);
    assert.equal(await s.byId(user()), undefined);
    const devices = await Promise.all(['a', 'b', 'a'].map((d, i) => s.addDevice({ userId: stored.userId, deviceId: d, createdAtMs: i })));
    assert.equal(devices.filter((d) => d.created).length, 2);
    assert.deepEqual((await s.listDevices(stored.userId)).map((d) => d.deviceId).sort(), ['a', 'b']);
    assert.deepEqual(await s.listDevices(user()), []);
  });
  test(`${name} AccountStore: sessions rotate by compare-and-set (one winner), password change, delete frees the name`, async () => {
    const s = await make();
    const a = { userId: user(), userName: 's' + randomUUID().slice(0, 8), passwordHash: 'h', createdAtMs: 1 };
    await s.create(a);
    await s.addDevice({ userId: a.userId, deviceId: 'p', createdAtMs: 1 });
    assert.equal(await s.session(a.userId, 'p'), undefined);
    await s.saveSession({ userId: a.userId, deviceId: 'p', gen: 7, refreshHash: 'h0', refreshExpiresAtMs: 100, usedHashes: [] });
    const racing = await Promise.all(['h1', 'h2', 'h3'].map((h) => s.rotateRefresh(a.userId, 'p', 'h0', h, 200, 2)));
    assert.equal(racing.filter(Boolean).length, 1);
    const won = ['h1', 'h2', 'h3'][racing.indexOf(true)]!;
    assert.equal(await s.rotateRefresh(a.userId, 'p', won, 'h4', 300, 2), true);
    assert.equal(await s.rotateRefresh(a.userId, 'p', 'h9', 'h5', 300, 2), false);
    assert.equal(await s.rotateRefresh(a.userId, 'p', 'h4', 'h5', 400, 2), true);
    assert.deepEqual(await s.session(a.userId, 'p'), {
      userId: a.userId,
      deviceId: 'p',
      gen: 7,
      refreshHash: 'h5',
      refreshExpiresAtMs: 400,
      usedHashes: ['h4', won],
    });
    await s.saveSession({ userId: a.userId, deviceId: 'p', gen: 8, refreshHash: undefined, refreshExpiresAtMs: 0, usedHashes: ['h4'] });
    assert.deepEqual(await s.session(a.userId, 'p'), {
      userId: a.userId,
      deviceId: 'p',
      gen: 8,
      refreshHash: undefined,
      refreshExpiresAtMs: 0,
      usedHashes: ['h4'],
    });
    assert.equal(await s.rotateRefresh(a.userId, 'p', 'h5', 'h6', 500, 2), false);
    await s.removeDevice(a.userId, 'p');
    assert.deepEqual(await s.listDevices(a.userId), []);
    await s.setPassword(a.userId, 'h2');
    assert.equal((await s.byName(a.userName))!.passwordHash, 'h2');
    await s.delete({ ...a, passwordHash: 'h2' });
    await s.delete({ ...a, passwordHash: 'h2' });
    assert.equal(await s.byId(a.userId), undefined);
    assert.equal(await s.byName(a.userName), undefined);
    assert.equal(await s.session(a.userId, 'p'), undefined);
    await s.create({ ...a, userId: user() });
  });
}
