import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigSchema, coreSettings, loadConfig } from './config.js';

test('every CHAT_* setting is documented in the README', () => {
  const readme = readFileSync('README.md', 'utf8');
  const missing = Object.keys(ConfigSchema.shape).filter((k) => !readme.includes(`\`${k}\``));
  assert.deepEqual(missing, [], 'settings missing from the README configuration table');
});

test("the use cases' settings are the CHAT_* values under their camelCase names", () => {
  const s = coreSettings(loadConfig({ CHAT_MAX_BODY_BYTES: '4000', CHAT_SEND_RATE_PER_SEC: '7', CHAT_CONSENT: 'open', CHAT_NODE_ID: 'n9' }));
  assert.equal(s.maxBodyBytes, 4000);
  assert.equal(s.sendRatePerSec, 7);
  assert.equal(s.consent, 'open');
  assert.equal(s.nodeId, 'n9');
  assert.equal(s.markBurst, 20, 'defaults pass through');
  assert.equal(s.editWindowMs, 172_800_000);
  assert.equal(Object.keys(s).length, 25);
});
