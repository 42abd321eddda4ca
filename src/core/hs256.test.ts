import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { Hs256Verifier } from './hs256.js';

const key = new TextEncoder().encode('k'.repeat(32));
const v = new Hs256Verifier(key, 'iss', 'aud');
const now = Date.now();
const sign = (claims: Record<string, unknown>, opts: { alg?: string; secret?: Uint8Array; header?: Record<string, unknown> } = {}) =>
  new SignJWT(claims).setProtectedHeader({ alg: opts.alg ?? 'HS256', ...opts.header }).sign(opts.secret ?? key);
const good = { sub: 'u', did: 'd', iss: 'iss', aud: 'aud', exp: Math.floor(now / 1000) + 60 };

test('HS256 verifier accepts a token jose signed and refuses every kind of bad token', async () => {
  const ok = v.verify(await sign(good), now);
  assert.equal(ok.ok && ok.claims.sub, 'u');
  assert.ok(v.verify(await sign({ ...good, aud: ['x', 'aud'] }), now).ok, 'audience in a list');
  const reason = async (claims: Record<string, unknown>, opts = {}) => {
    const r = v.verify(await sign(claims, opts), now);
    return r.ok ? 'ok' : r.reason;
  };
  assert.equal(await reason({ ...good, exp: undefined }), 'no-exp');
  assert.equal(await reason({ ...good, exp: Math.floor(now / 1000) - 1 }), 'expired');
  assert.equal(await reason({ ...good, exp: 'soon' }), 'invalid');
  assert.equal(await reason({ ...good, nbf: Math.floor(now / 1000) + 60 }), 'invalid');
  assert.equal(await reason({ ...good, iss: 'other' }), 'invalid');
  assert.equal(await reason({ ...good, aud: 'other' }), 'invalid');
  assert.equal(await reason(good, { secret: new TextEncoder().encode('x'.repeat(32)) }), 'invalid');
  assert.equal(await reason(good, { alg: 'HS512' }), 'invalid');
  assert.equal(await reason(good, { header: { crit: ['b64'], b64: true } }), 'invalid');
  const t = await sign(good);
  const [h, p, s] = t.split('.') as [string, string, string];
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
  for (const bad of [
    '',
    'a.b',
    `${h}.${p}`,
    `${h}.${p}.${s}x`,
    `${h}.${p}.${s.slice(0, -2)}`,
    none,
    `${h}.${Buffer.from('[]').toString('base64url')}.${s}`,
    `${h}.${p}.${s}.x`,
  ]) {
    const r = v.verify(bad, now);
    assert.equal(r.ok, false, bad);
  }
});
