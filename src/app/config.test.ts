import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigSchema } from './config.js';

test('every CHAT_* setting is documented in the README', () => {
  const readme = readFileSync('README.md', 'utf8');
  const missing = Object.keys(ConfigSchema.shape).filter((k) => !readme.includes(`\`${k}\``));
  assert.deepEqual(missing, [], 'settings missing from the README configuration table');
});
