import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceKeys, parseServiceToken } from './serviceTokens.js';

test('a service token is exactly svc:<name>:<secret>; the secret may contain ":"', () => {
  assert.deepEqual(parseServiceToken('svc:bot:s3cret'), { name: 'bot', secret: 's3cret' });
  assert.deepEqual(parseServiceToken('svc:bot:a:b:c'), { name: 'bot', secret: 'a:b:c' });
  assert.deepEqual(parseServiceToken('svc:my.bot-1:x'), { name: 'my.bot-1', secret: 'x' });
  for (const bad of ['svc:', 'svc:bot', 'svc:bot:', 'svc::secret', 'svc:b t:secret', 'bot:secret', 'SVC:bot:secret', `svc:${'n'.repeat(65)}:secret`]) {
    assert.equal(parseServiceToken(bad), undefined, bad);
  }
});

test('service secrets are checked whole, by digest', () => {
  const keys = new ServiceKeys(
    new Map([
      ['bot', 'abc:defghijklmnopqrstu'],
      ['hook', 'x'.repeat(20)],
    ]),
  );
  assert.equal(keys.check('svc:bot:abc:defghijklmnopqrstu'), 'bot');
  assert.equal(keys.check('svc:bot:abc'), undefined, 'a prefix of the secret');
  assert.equal(keys.check('svc:bot:abc:defghijklmnopqrstu:extra'), undefined, 'the secret plus more');
  assert.equal(keys.check(`svc:hook:${'x'.repeat(20)}`), 'hook');
  assert.equal(keys.check(`svc:hook:${'x'.repeat(20)}:`), undefined);
  assert.equal(keys.check(`svc:nobody:${'x'.repeat(20)}`), undefined, 'an unknown name');
});
