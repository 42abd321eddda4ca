import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigSchema } from '../../src/app/config.js';

/** Deploy files cannot run here (no Docker, no cluster); at least their settings must exist. */
test('every CHAT_* variable set by the deploy files exists in the config schema', () => {
  const files = ['deploy/compose.yaml', 'deploy/k8s/chat.yaml'];
  const known = new Set(Object.keys(ConfigSchema.shape));
  for (const f of files) {
    const names = new Set(readFileSync(f, 'utf8').match(/CHAT_[A-Z0-9_]+/g) ?? []);
    assert.ok(names.size > 5, `${f} sets chat variables`);
    const unknown = [...names].filter((n) => !known.has(n));
    assert.deepEqual(unknown, [], `${f} uses variables the node does not know`);
  }
});
